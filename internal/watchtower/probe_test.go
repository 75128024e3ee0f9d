package watchtower_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"micromirror/internal/status"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// TestProbesRealNode probes a running node over HTTP and HTTPS and over
// IPv4 and IPv6, a closed port, a URL that answers as another node, and a
// name without an IPv6 address; failures raise alerts per family.
func TestProbesRealNode(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.NodeConfig(t, "debian")
	synced := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	status.NewStore(filepath.Join(cfg.StateDir, "status")).Save(status.Project{Name: "debian", State: "idle", LastSuccess: synced})
	n := testenv.StartNode(t, cfg)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	store := openSQLite(t)
	var v4, v6 net.Addr // the node listens on both loopbacks
	for _, a := range n.HTTPAddrs() {
		if a.(*net.TCPAddr).IP.To4() != nil {
			v4 = a
		} else {
			v6 = a
		}
	}
	nodes := []watchtower.NodeConfig{
		{Name: cfg.Name, Probes: []string{testenv.URL("http", v4) + "/", testenv.URL("http", v6) + "/", testenv.URL("https", n.HTTPSAddrs()[0]) + "/"}},
		{Name: "down.mm.example.net", Probes: []string{"http://" + closed + "/"}},
		{Name: "other.mm.example.net", Probes: []string{testenv.URL("http", v4) + "/"}},
		// localhost has no IPv6 address here (/etc/hosts): both are probed.
		{Name: "v4only.mm.example.net", Probes: []string{fmt.Sprintf("http://localhost:%d/", v4.(*net.TCPAddr).Port)}},
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The node's certificate is self-signed in tests; the expiry is what is checked.
	p := watchtower.NewProber(store, nodes, time.Minute, &tls.Config{InsecureSkipVerify: true}, quiet)
	p.ProbeAll(ctx)
	got, err := store.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]watchtower.Probe{}
	for _, nd := range got {
		by[nd.Node] = nd.Probes
	}
	ok := by[cfg.Name]
	if len(ok) != 3 || !ok[0].OK || !ok[1].OK || !ok[2].OK || ok[0].Family != "ipv4" || ok[1].Family != "ipv6" ||
		ok[2].Scheme != "https" || ok[2].CertExpiry.Before(time.Now().Add(300*24*time.Hour)) || !ok[0].OldestSync.Equal(synced) {
		t.Errorf("probes of the healthy node = %+v", ok)
	}
	if v := by["v4only.mm.example.net"]; len(v) != 2 || v[0].Family != "ipv4" || !strings.Contains(v[0].Error, "answered as") ||
		v[1].Family != "ipv6" || !strings.Contains(v[1].Error, "no ipv6 address") {
		t.Errorf("probes of a name without an IPv6 address = %+v", v)
	}
	if d := by["down.mm.example.net"]; len(d) != 1 || d[0].OK || !strings.Contains(d[0].Error, "refused") {
		t.Errorf("probe of a closed port = %+v", d)
	}
	if o := by["other.mm.example.net"]; len(o) != 1 || o[0].OK || !strings.Contains(o[0].Error, fmt.Sprintf("%q", cfg.Name)) {
		t.Errorf("probe answered by another node = %+v", o)
	}
	alerts, err := watchtower.Evaluate(ctx, store, watchtower.AlertConfig{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, a := range alerts {
		keys[a.Key] = true
	}
	if !keys["probe-failing/down.mm.example.net/http-ipv4"] || !keys["probe-failing/other.mm.example.net/http-ipv4"] ||
		!keys["probe-failing/v4only.mm.example.net/http-ipv6"] || keys["probe-failing/"+cfg.Name+"/https-ipv4"] {
		t.Errorf("alerts = %v", keys)
	}
	// An almost expired certificate alerts.
	store.SaveProbe(ctx, watchtower.Probe{Node: cfg.Name, Scheme: "https", Family: "ipv4", At: time.Now(), OK: true, CertExpiry: time.Now().Add(5 * 24 * time.Hour)})
	// Seen over both families, it is one alert.
	store.SaveProbe(ctx, watchtower.Probe{Node: cfg.Name, Scheme: "https", Family: "ipv6", At: time.Now(), OK: true, CertExpiry: time.Now().Add(6 * 24 * time.Hour)})
	alerts, _ = watchtower.Evaluate(ctx, store, watchtower.AlertConfig{}, time.Now())
	found := 0
	for _, a := range alerts {
		if a.Key == "cert-expiring/"+cfg.Name {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d cert-expiring alerts, want 1: %+v", found, alerts)
	}
}

// TestProbesRunTogether: a round probes nodes side by side, so a fleet
// with nodes that time out still finishes its round (the server counts
// how many probes it holds at once), and every result is stored.
func TestProbesRunTogether(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == 8 {
			once.Do(func() { close(release) }) // eight probes held at once: let them all go
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	store := openSQLite(t)
	var nodes []watchtower.NodeConfig
	for i := range 20 {
		store.Ingest(ctx, telemetry.Batch{Version: 1, Node: fmt.Sprintf("n%d.mm.example.net", i), Seq: 1, Start: time.Now(), End: time.Now()}, time.Now())
		nodes = append(nodes, watchtower.NodeConfig{Name: fmt.Sprintf("n%d.mm.example.net", i), Probes: []string{srv.URL + "/"}})
	}
	watchtower.NewProber(store, nodes, time.Hour, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).ProbeAll(ctx)
	if most < 8 {
		t.Errorf("at most %d probes at once; want them side by side", most)
	}
	summaries, err := store.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	probed := 0
	for _, s := range summaries {
		if len(s.Probes) == 1 && !s.Probes[0].OK {
			probed++
		}
	}
	if probed != 20 {
		t.Errorf("%d of 20 nodes have their failed probe stored", probed)
	}
}
