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
	// usage is what the watchtower counted; logged what the access log has.
	usage := func() (rows []watchtower.UsageRow) {
		resp, err := testenv.OperatorGet("http://" + addr + "/api/v1/usage?group=node&from=0")
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var u struct {
			Rows []watchtower.UsageRow `json:"rows"`
		}
		json.NewDecoder(resp.Body).Decode(&u)
		return u.Rows
	}
	logged := func() (reqs, bytes uint64) {
		f, _ := os.Open(cfg.AccessLog)
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			_, _, _, b, err := accesslog.ParseLine(sc.Text())
			if err != nil {
				t.Fatalf("access log: %v", err)
			}
			reqs++
			bytes += uint64(b)
		}
		return reqs, bytes
	}
	traffic(5)
	waitFor(t, "a batch before the outage", func() bool { r := usage(); return len(r) == 1 && r[0].Requests > 0 })
	wt.Close(context.Background()) // outage
	traffic(5)
	waitFor(t, "batches spooled during the outage", func() bool { return n.TelemetryQueued() >= 2 })
	statusOf(t, "-I", "-A", "Mirrorbits/0.6 PING CHECK", base+"/debian/f1")
	wt = watchtower.NewServer(wcfg, store, quiet)
	if err := wt.Open(addr); err != nil {
		t.Fatal(err)
	}
	go wt.Serve("", "")
	defer wt.Close(context.Background())
	traffic(3)

	// 13 rounds of 4 requests and one HEAD: the access log and the
	// watchtower must both come to all of them, and agree on the bytes.
	const made = 13*4 + 1
	waitFor(t, "every request in the access log and at the watchtower", func() bool {
		r, _ := logged()
		u := usage()
		return r == made && len(u) == 1 && u[0].Requests >= made
	})
	wantReq, wantBytes := logged()
	if u := usage(); len(u) != 1 || u[0].Requests != wantReq || u[0].Bytes != wantBytes {
		t.Fatalf("watchtower totals %+v, access log says %d requests, %d bytes", u, wantReq, wantBytes)
	}
	t.Logf("%d requests, %d bytes: watchtower and access log agree", wantReq, wantBytes)

	var top struct {
		Paths []struct {
			Path     string `json:"path"`
			Requests uint64 `json:"requests"`
		} `json:"paths"`
	}
	resp, _ := testenv.OperatorGet("http://" + addr + "/api/v1/top?project=debian&from=0")
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
