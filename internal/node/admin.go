package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"micromirror/internal/nodeconfig"
)

// listenAdmin binds the admin interface: loopback addresses and unix
// sockets only (config validation refuses anything else).
func (n *Node) listenAdmin(ctx context.Context, addrs []string) error {
	for _, a := range addrs {
		network, address := "tcp", a
		if nodeconfig.IsUnixAddr(a) {
			network, address = "unix", strings.TrimPrefix(a, "unix:")
			// A socket left by a crashed node would make the bind fail.
			if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
				os.Remove(address)
			}
		}
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, network, address)
		if err != nil {
			return fmt.Errorf("listen admin %s: %w", a, err)
		}
		if network == "unix" {
			// Owner and group only: triggering syncs is for operators.
			os.Chmod(address, 0o660)
			n.adminSockets = append(n.adminSockets, address)
		}
		n.admin = append(n.admin, l)
	}
	return nil
}

// serveAdmin serves the admin interface on its bound listeners.
func (n *Node) serveAdmin() {
	mux := http.NewServeMux()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &trafficCollector{n})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	// Profiles of the running node, for finding where a busy node's CPU
	// goes (go tool pprof http://127.0.0.1:9873/debug/pprof/profile).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /api/v1/traffic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.traffic.Snapshot())
	})
	mux.HandleFunc("GET /api/v1/projects", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, http.StatusOK, n.ProjectStatus())
	})
	mux.HandleFunc("GET /api/v1/mqtt", func(w http.ResponseWriter, r *http.Request) {
		st, ok := n.MQTTStats()
		if !ok {
			writeAdminJSON(w, http.StatusNotFound, map[string]string{"error": "mqtt not configured"})
			return
		}
		writeAdminJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /api/v1/projects/{name}/sync", func(w http.ResponseWriter, r *http.Request) {
		reason := "manual"
		if r.URL.Query().Get("force") == "1" {
			reason = "force"
		}
		if err := n.Engine().Trigger(r.PathValue("name"), reason); err != nil {
			writeAdminJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		writeAdminJSON(w, http.StatusAccepted, map[string]string{"project": r.PathValue("name"), "trigger": reason})
	})
	srv := &http.Server{Handler: adminOnly(mux), ReadHeaderTimeout: n.cfg.Limits.HeaderTimeout.D()}
	for _, l := range n.admin {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				n.log.Error("admin serve", "err", err)
			}
		}()
	}
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// trafficCollector exports the traffic counters to Prometheus.
type trafficCollector struct{ n *Node }

var (
	descRequests    = prometheus.NewDesc("micromirror_requests_total", "Requests served, by project and protocol.", []string{"project", "protocol"}, nil)
	descBytes       = prometheus.NewDesc("micromirror_sent_bytes_total", "Body bytes sent, by project and protocol.", []string{"project", "protocol"}, nil)
	descStatus      = prometheus.NewDesc("micromirror_responses_total", "HTTP responses by status class.", []string{"project", "class"}, nil)
	descFamily      = prometheus.NewDesc("micromirror_requests_by_family_total", "Requests by IP family.", []string{"project", "family"}, nil)
	descRsync       = prometheus.NewDesc("micromirror_rsync_sessions", "rsync sessions running now.", nil, nil)
	descRefused     = prometheus.NewDesc("micromirror_refused_total", "Requests refused, by reason.", []string{"reason"}, nil)
	descConns       = prometheus.NewDesc("micromirror_open_connections", "Open HTTP(S) connections.", nil, nil)
	descCache       = prometheus.NewDesc("micromirror_file_cache_total", "File cache lookups and evictions, by outcome.", []string{"outcome"}, nil)
	descCached      = prometheus.NewDesc("micromirror_file_cache_entries", "Files held by the file cache.", nil, nil)
	descCachedBytes = prometheus.NewDesc("micromirror_file_cache_bytes", "Memory the file cache holds (bodies, paths, headers).", nil, nil)
	descTelRejected = prometheus.NewDesc("micromirror_telemetry_rejected_total",
		"Telemetry batches the watchtower refused for good, and the node dropped.", nil, nil)
	descClaimed = prometheus.NewDesc("micromirror_unverified_checker_total",
		"Requests rate-limited that claimed a mirror checker's user agent from an address not known as one (in the rate_limit refusals too).", nil, nil)
	descMQTTUp   = prometheus.NewDesc("micromirror_mqtt_connected", "1 when subscribed to the broker.", nil, nil)
	descMQTTMsgs = prometheus.NewDesc("micromirror_mqtt_messages_total", "MQTT messages by outcome.", []string{"outcome"}, nil)
)

func (c *trafficCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descBytes, descStatus, descFamily, descRsync, descRefused, descConns, descClaimed, descTelRejected, descCache, descCached, descCachedBytes, descMQTTUp, descMQTTMsgs} {
		ch <- d
	}
}

func (c *trafficCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.n.traffic.Snapshot() {
		for proto, v := range s.Requests {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(v), s.Project, proto)
		}
		for proto, v := range s.Bytes {
			ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(v), s.Project, proto)
		}
		for class, v := range s.StatusClasses {
			ch <- prometheus.MustNewConstMetric(descStatus, prometheus.CounterValue, float64(v), s.Project, class)
		}
		ch <- prometheus.MustNewConstMetric(descFamily, prometheus.CounterValue, float64(s.IPv4), s.Project, "ipv4")
		ch <- prometheus.MustNewConstMetric(descFamily, prometheus.CounterValue, float64(s.IPv6), s.Project, "ipv6")
	}
	ch <- prometheus.MustNewConstMetric(descRsync, prometheus.GaugeValue, float64(c.n.rsync.Sessions()))
	st := c.n.serving.Load()
	var capped uint64
	var open int64
	for _, l := range c.n.listeners {
		capped += l.Rejected()
		open += l.Open()
	}
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(st.guard.Blocked.Load()), "blocklist")
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(st.guard.Limited.Load()), "rate_limit")
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(capped), "connection_cap")
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(c.n.h2refused.Load()), "http2_streams")
	ch <- prometheus.MustNewConstMetric(descClaimed, prometheus.CounterValue, float64(st.guard.Unverified.Load()))
	cs := st.content.CacheStats()
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(cs.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(cs.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(cs.Evictions), "eviction")
	ch <- prometheus.MustNewConstMetric(descCached, prometheus.GaugeValue, float64(cs.Entries))
	ch <- prometheus.MustNewConstMetric(descCachedBytes, prometheus.GaugeValue, float64(cs.Bytes))
	if p := c.n.pusher; p != nil {
		ch <- prometheus.MustNewConstMetric(descTelRejected, prometheus.CounterValue, float64(p.Rejected.Load()))
	}
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(c.n.rsync.Refused()), "rsync")
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(c.n.rsync.Dropped()), "rsync_no_greeting")
	if m, ok := c.n.MQTTStats(); ok {
		up := 0.0
		if m.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descMQTTUp, prometheus.GaugeValue, up)
		for outcome, v := range map[string]uint64{"triggered": m.Triggered, "current": m.Current, "duplicate": m.Duplicate,
			"unknown_topic": m.UnknownTopic, "not_hosted": m.NotHosted, "malformed": m.Malformed, "oversized": m.Oversized} {
			ch <- prometheus.MustNewConstMetric(descMQTTMsgs, prometheus.CounterValue, float64(v), outcome)
		}
	}
}

// AdminSocket is the admin unix socket of a node config.
func AdminSocket(cfg nodeconfig.Config) string { return filepath.Join(cfg.StateDir, "admin.sock") }

// AdminAddrs returns the bound admin addresses.
func (n *Node) AdminAddrs() []net.Addr {
	var out []net.Addr
	for _, l := range n.admin {
		out = append(out, l.Addr())
	}
	return out
}
