package node_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"micromirror/internal/accesslog"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
	"micromirror/internal/yamlconf"
)

// TestTelemetrySurvivesWatchtowerOutage: a node under traffic pushes to the
// watchtower; the watchtower goes away for a while and comes back; in the
// end the totals it reports equal what the node's access log says it
// served.
func TestTelemetrySurvivesWatchtowerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	wcfg := watchtower.Config{Nodes: []watchtower.NodeConfig{{Name: "test.mm.example.net", TokenSHA256: watchtower.HashToken("node-token")}},
		OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken)}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	wt := watchtower.NewServer(wcfg, store, quiet)
	if err := wt.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := wt.Addr()
	go wt.Serve("", "")

	cfg := testenv.NodeConfig(t, "debian")
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("node-token\n"), 0o600)
	cfg.Telemetry = nodeconfig.Telemetry{URL: "http://" + addr + "/api/v1/ingest", TokenFile: tokenFile, Interval: yamlconf.Dur(200 * time.Millisecond), SpoolMax: 1000}
	for i, size := range []int{1000, 50000, 333} {
		testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian", "f"+string(rune('0'+i))), make([]byte, size), syncedAt)
	}
	n := testenv.StartNode(t, cfg)
	base := testenv.URL("http", n.HTTPAddrs()[0])
	traffic := func(rounds int) {
		for range rounds {
			for _, f := range []string{"f0", "f1", "f2", "missing"} {
				statusOf(t, base+"/debian/"+f)
			}
		}
	}
	traffic(5)
	time.Sleep(500 * time.Millisecond)
	wt.Close(context.Background()) // outage
	traffic(5)
	time.Sleep(800 * time.Millisecond)
	if q := n.TelemetryQueued(); q < 2 {
		t.Errorf("spool holds %d batches during the outage", q)
	}
	statusOf(t, "-I", "-A", "Mirrorbits/0.6 PING CHECK", base+"/debian/f1")
	wt = watchtower.NewServer(wcfg, store, quiet)
	if err := wt.Open(addr); err != nil {
		t.Fatal(err)
	}
	go wt.Serve("", "")
	defer wt.Close(context.Background())
	traffic(3)

	time.Sleep(1500 * time.Millisecond) // last requests counted and logged
	for deadline := time.Now().Add(20 * time.Second); n.TelemetryQueued() > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)

	var wantReq, wantBytes uint64
	f, _ := os.Open(cfg.AccessLog)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, _, _, b, err := accesslog.ParseLine(sc.Text())
		if err != nil {
			t.Fatalf("access log: %v", err)
		}
		wantReq++
		wantBytes += uint64(b)
	}
	f.Close()
	resp, err := testenv.OperatorGet("http://" + addr + "/api/v1/usage?group=node&from=0")
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		Rows []watchtower.UsageRow `json:"rows"`
	}
	json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if len(u.Rows) != 1 || u.Rows[0].Requests != wantReq || u.Rows[0].Bytes != wantBytes {
		t.Fatalf("watchtower totals %+v, access log says %d requests, %d bytes", u.Rows, wantReq, wantBytes)
	}
	t.Logf("%d requests, %d bytes: watchtower and access log agree", wantReq, wantBytes)

	var top struct {
		Paths []struct {
			Path     string `json:"path"`
			Requests uint64 `json:"requests"`
		} `json:"paths"`
	}
	resp, _ = testenv.OperatorGet("http://" + addr + "/api/v1/top?project=debian&from=0")
	json.NewDecoder(resp.Body).Decode(&top)
	resp.Body.Close()
	if len(top.Paths) != 3 || top.Paths[0].Path != "/debian/f1" || top.Paths[0].Requests != 14 {
		t.Errorf("top = %+v (f1 was fetched 13 times and HEADed once; 404s are not top files)", top.Paths)
	}
	var nodes struct {
		Nodes []watchtower.NodeSummary `json:"nodes"`
	}
	resp, _ = testenv.OperatorGet("http://" + addr + "/api/v1/nodes")
	json.NewDecoder(resp.Body).Decode(&nodes)
	resp.Body.Close()
	if len(nodes.Nodes) != 1 || len(nodes.Nodes[0].Checkers) != 1 || nodes.Nodes[0].Checkers[0].Checker != "Mirrorbits" {
		t.Errorf("checker visits = %+v", nodes.Nodes)
	}
}
