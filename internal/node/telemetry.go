package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"time"

	"micromirror/internal/certs"
	"micromirror/internal/hosthealth"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/telemetry"
)

// Version is reported in telemetry; main sets it from the build.
var Version = "dev"

// startTelemetry spools a batch every interval and pushes the spool to the
// watchtower; the last batch is spooled at shutdown.
func (n *Node) startTelemetry(ctx context.Context, cfg nodeconfig.Config) error {
	t := cfg.Telemetry
	if t.URL == "" {
		return nil
	}
	spool, err := telemetry.OpenSpool(filepath.Join(cfg.StateDir, "spool"), t.SpoolMax)
	if err != nil {
		return err
	}
	n.spool = spool
	col := telemetry.NewCollector(telemetry.Sources{
		Usage: n.usage,
		Node:  cfg.Name, Version: Version, DataDir: cfg.DataDir, Traffic: n.traffic,
		Syncs: n.syncEvents,
		Health: func() telemetry.Health {
			return hosthealth.Read(hosthealth.Sources{SmartDir: t.SmartDir}, time.Now())
		},
		MQTT: func() *telemetry.MQTTState {
			m, ok := n.MQTTStats()
			if !ok {
				return nil
			}
			return &telemetry.MQTTState{Connected: m.Connected, Received: m.Received, Triggered: m.Triggered,
				Ignored: m.UnknownTopic + m.NotHosted + m.Malformed + m.Oversized + m.Duplicate}
		},
	})
	var tc *tls.Config
	if t.CAFile != "" {
		pool, err := certs.LoadCAPool(t.CAFile)
		if err != nil {
			return fmt.Errorf("telemetry ca_file: %w", err)
		}
		tc = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	p, err := telemetry.NewPusher(telemetry.PusherConfig{URL: t.URL, TokenFile: t.TokenFile, TLS: tc, Interval: t.Interval.D()},
		col, spool, n.log.With("component", "telemetry"))
	if err != nil {
		return err
	}
	n.pusher = p
	n.wg.Add(1)
	go func() { defer n.wg.Done(); p.Run(ctx) }()
	return nil
}

// TelemetryQueued is the number of batches waiting in the spool.
func (n *Node) TelemetryQueued() int {
	if n.spool == nil {
		return 0
	}
	return n.spool.Len()
}

// syncEvents reports each project's last run for telemetry.
func (n *Node) syncEvents() []telemetry.SyncEvent {
	var out []telemetry.SyncEvent
	for _, p := range n.Engine().Status() {
		if p.LastRun == nil {
			continue
		}
		r := p.LastRun
		out = append(out, telemetry.SyncEvent{Project: p.Name, Started: r.Started, Seconds: r.Seconds, Result: r.Result,
			Trigger: p.Trigger, BytesReceived: r.BytesReceived, Files: r.FilesTransferred, Deleted: r.FilesDeleted,
			RateBps: r.RateBytesPerSec, LastSuccess: p.LastSuccess, Serial: r.Serial, TreeBytes: r.TreeBytes, Triggers: p.Triggers})
	}
	return out
}
