package telemetry

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// PusherConfig configures pushing to the watchtower.
type PusherConfig struct {
	URL       string // https://watchtower.example.net/api/v1/ingest
	TokenFile string // per-node bearer token; never logged
	TLS       *tls.Config
	Interval  time.Duration
	RetryMax  time.Duration
}

// Pusher collects a batch every interval into the spool and pushes the
// spool oldest first; a batch leaves the spool only when acknowledged.
type Pusher struct {
	cfg   PusherConfig
	col   *Collector
	spool *Spool
	http  *http.Client
	log   *slog.Logger
	token string

	// Rejected counts batches the watchtower refused for good (and the
	// node so dropped): malformed, too big, implausible.
	Rejected atomic.Uint64
}

// NewPusher reads the token file and prepares the pusher.
func NewPusher(cfg PusherConfig, col *Collector, spool *Spool, log *slog.Logger) (*Pusher, error) {
	tok, err := os.ReadFile(cfg.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("telemetry token_file: %w", err)
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	return &Pusher{cfg: cfg, col: col, spool: spool, log: log, token: strings.TrimSpace(string(tok)),
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg.TLS, Proxy: http.ProxyFromEnvironment}}}, nil
}

// Run collects and pushes until ctx ends; a last batch is spooled at the end.
func (p *Pusher) Run(ctx context.Context) {
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	backoff := time.Duration(0)
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			p.spoolNow()
			return
		case <-tick.C:
			p.spoolNow()
			if backoff > 0 {
				continue // a retry is already scheduled
			}
		case <-retry.C:
		}
		if err := p.drain(ctx); err != nil {
			backoff = min(max(backoff*2, p.cfg.Interval/4), p.cfg.RetryMax)
			d := time.Duration(float64(backoff) * (0.75 + rand.Float64()*0.5))
			p.log.Warn("telemetry push failed, will retry", "err", err, "in", d.Round(time.Second), "queued", p.spool.Len())
			retry.Reset(d)
		} else {
			backoff = 0
		}
	}
}

func (p *Pusher) spoolNow() {
	b := p.col.Collect(time.Now())
	b.System.SpoolQueued = p.spool.Len()
	if err := p.spool.Add(&b); err != nil {
		p.log.Error("telemetry spool", "err", err)
	}
}

// drain pushes queued batches oldest first until the spool is empty or a
// push fails.
func (p *Pusher) drain(ctx context.Context) error {
	for {
		seq, body, ok := p.spool.Oldest()
		if !ok {
			return nil
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := p.http.Do(req)
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		switch {
		case resp.StatusCode < 300:
			p.spool.Remove(seq) // accepted, or a duplicate already counted
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			// A token problem is the operator's to fix: keep every batch.
			return fmt.Errorf("watchtower refused our token: %s", resp.Status)
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			return fmt.Errorf("watchtower: %s", resp.Status)
		default:
			// The watchtower will never take this batch (malformed, too
			// big): keep the rest moving and say so loudly.
			p.log.Error("telemetry batch rejected, dropping it", "seq", seq, "status", resp.Status, "reason", strings.TrimSpace(string(msg)))
			p.spool.Remove(seq)
			p.Rejected.Add(1)
		}
	}
}
