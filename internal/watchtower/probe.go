package watchtower

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// ProbeUserAgent names the watchtower's probes in the nodes' access logs.
const ProbeUserAgent = "micromirror-watchtower/probe"

// Prober fetches each node's root page as JSON over every configured URL,
// as the distros' checkers fetch freshness markers: it records
// reachability, latency and the TLS certificate's expiry.
type Prober struct {
	store Store
	nodes atomic.Pointer[[]NodeConfig] // SetNodes swaps it between rounds
	log   *slog.Logger
	// http has a client per address family ("ipv4", "ipv6"), each dialing
	// only its own: a node reachable over one and not the other shows.
	http  map[string]*http.Client
	every time.Duration
}

// families are the address families probed, with their dial networks.
var families = []struct{ name, network, lookup, record string }{
	{"ipv4", "tcp4", "ip4", "A"}, {"ipv6", "tcp6", "ip6", "AAAA"},
}

// NewProber prepares probes of the nodes that list probe URLs.
func NewProber(store Store, nodes []NodeConfig, every time.Duration, tlsConfig *tls.Config, log *slog.Logger) *Prober {
	if every == 0 {
		every = 5 * time.Minute
	}
	p := &Prober{store: store, log: log, every: every, http: map[string]*http.Client{}}
	for _, f := range families {
		dialer := &net.Dialer{Timeout: 10 * time.Second}
		network := f.network
		// No proxy: a probe checks the node itself, over one family.
		tr := &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			}}
		p.http[f.name] = &http.Client{Timeout: 10 * time.Second, Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	p.SetNodes(nodes)
	return p
}

// SetNodes replaces the nodes probed from the next round on.
func (p *Prober) SetNodes(nodes []NodeConfig) { p.nodes.Store(&nodes) }

// Run probes every interval until ctx ends, when this watchtower leads.
func (p *Prober) Run(ctx context.Context) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		// Of the replicas on one database, the leader probes (Lead).
		if lead, err := p.store.Lead(ctx); err != nil {
			p.log.Error("lead", "err", err)
		} else if lead {
			p.ProbeAll(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeWorkers bounds the probes in flight: a fleet of a thousand nodes
// with some down would otherwise take hours a round at 10 s a timeout.
const probeWorkers = 32

// ProbeAll probes every node once, several at a time, and stores the
// results; it returns when all are done or ctx ends.
func (p *Prober) ProbeAll(ctx context.Context) {
	type job struct{ node, url, family string }
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range probeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				pr := p.probe(ctx, j.node, j.url, j.family)
				if ctx.Err() != nil {
					continue // shutting down: the result is not the node's fault
				}
				if err := p.store.SaveProbe(ctx, pr); err != nil {
					p.log.Error("save probe", "node", j.node, "err", err)
				}
			}
		}()
	}
feed:
	for _, n := range *p.nodes.Load() {
		for _, u := range n.Probes {
			for _, f := range probeFamilies(u) {
				select {
				case jobs <- job{n.Name, u, f}:
				case <-ctx.Done():
					break feed
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
}

// probeFamilies are the families a probe URL is checked over: an address
// literal's own, both for a name (a node's name without an AAAA record is
// a failing IPv6 probe, as the distros' checkers would find).
func probeFamilies(base string) []string {
	u, err := url.Parse(base)
	if err != nil {
		return []string{"ipv4"} // probe reports the bad URL
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil {
		if ip.To4() != nil {
			return []string{"ipv4"}
		}
		return []string{"ipv6"}
	}
	return []string{"ipv4", "ipv6"}
}

func (p *Prober) probe(ctx context.Context, node, base, family string) Probe {
	u, err := url.Parse(base)
	pr := Probe{Node: node, At: time.Now().UTC(), Family: family}
	if err != nil {
		pr.Error = "bad probe URL"
		return pr
	}
	pr.Scheme = u.Scheme
	if net.ParseIP(u.Hostname()) == nil {
		for _, f := range families {
			if f.name != family {
				continue
			}
			if _, err := net.DefaultResolver.LookupIP(ctx, f.lookup, u.Hostname()); err != nil {
				pr.Error = fmt.Sprintf("no %s address (%s record): %v", f.name, f.record, err)
				return pr
			}
		}
	}
	q := u.Query()
	q.Set("format", "json")
	u.RawQuery = q.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	req.Header.Set("User-Agent", ProbeUserAgent)
	start := time.Now()
	resp, err := p.http[family].Do(req)
	pr.LatencyMS = time.Since(start).Milliseconds()
	if err != nil {
		pr.Error = err.Error()
		return pr
	}
	defer resp.Body.Close()
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		pr.CertExpiry = resp.TLS.PeerCertificates[0].NotAfter.UTC()
	}
	if resp.StatusCode != http.StatusOK {
		pr.Error = "status " + resp.Status
		return pr
	}
	var root struct {
		Version  int    `json:"version"`
		Node     string `json:"node"`
		Projects []struct {
			LastSync time.Time `json:"last_sync"`
		} `json:"projects"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&root); err != nil || root.Version != 1 {
		pr.Error = "not a micromirror node's root page"
		return pr
	}
	if root.Node != node {
		pr.Error = fmt.Sprintf("answered as %q", root.Node)
		return pr
	}
	for _, p := range root.Projects {
		if !p.LastSync.IsZero() && (pr.OldestSync.IsZero() || p.LastSync.Before(pr.OldestSync)) {
			pr.OldestSync = p.LastSync.UTC()
		}
	}
	pr.OK = true
	return pr
}
