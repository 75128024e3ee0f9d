package node_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
	"micromirror/internal/yamlconf"
)

// TestTelemetryOverHTTPS: the watchtower serves TLS with a private CA's
// certificate; the node trusts it through telemetry.ca_file, and nothing
// else (a node without the CA cannot push).
func TestTelemetryOverHTTPS(t *testing.T) {
	cert, key := testenv.SelfSignedPEM(t)
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	wt := watchtower.NewServer(watchtower.Config{Nodes: []watchtower.NodeConfig{{Name: "test.mm.example.net", TokenSHA256: watchtower.HashToken("tls-token")}},
		OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken)},
		store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := wt.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go wt.Serve(cert, key)
	defer wt.Close(context.Background())

	cfg := testenv.NodeConfig(t, "debian")
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("tls-token"), 0o600)
	cfg.Telemetry = nodeconfig.Telemetry{URL: "https://" + wt.Addr() + "/api/v1/ingest", TokenFile: tokenFile, CAFile: cert,
		Interval: yamlconf.Dur(200 * time.Millisecond), SpoolMax: 100}
	testenv.StartNode(t, cfg)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: testenv.TLSTrusting(t, cert)}}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+wt.Addr()+"/api/v1/nodes", nil)
		req.Header.Set("Authorization", "Bearer "+testenv.OperatorToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var n struct {
			Nodes []watchtower.NodeSummary `json:"nodes"`
		}
		json.NewDecoder(resp.Body).Decode(&n)
		resp.Body.Close()
		if len(n.Nodes) == 1 && n.Nodes[0].Node == "test.mm.example.net" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no batch arrived over HTTPS")
		}
	}

	// Without the CA the node refuses the watchtower's certificate: its
	// batches stay in the spool.
	cfg2 := testenv.NodeConfig(t, "debian")
	cfg2.Name = "test.mm.example.net"
	cfg2.Telemetry = cfg.Telemetry
	cfg2.Telemetry.CAFile = ""
	n2 := testenv.StartNode(t, cfg2)
	time.Sleep(800 * time.Millisecond)
	if n2.TelemetryQueued() < 2 {
		t.Errorf("a node that cannot verify the watchtower emptied its spool (%d queued)", n2.TelemetryQueued())
	}
}
