package watchtower_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"micromirror/internal/testenv"
	"net/http"
	"strings"
	"testing"
	"time"

	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

// serveWatchtower serves store with cfg on a loopback port until the test
// ends (before the store closes: this cleanup runs first).
func serveWatchtower(t *testing.T, cfg watchtower.Config, store watchtower.Store) *watchtower.Server {
	t.Helper()
	s := watchtower.NewServer(cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go s.Serve("", "")
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// operatorConfig is a config with the test operator's token.
var operatorConfig = watchtower.Config{OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken)}

func startWatchtower(t *testing.T) string {
	t.Helper()
	cfg := watchtower.Config{Nodes: []watchtower.NodeConfig{
		{Name: "a.mm.example.net", TokenSHA256: watchtower.HashToken("token-a"), Sponsor: "Ziply"},
		{Name: "b.mm.example.net", TokenSHA256: watchtower.HashToken("token-b"), Sponsor: "Ziply"},
	}, OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken)}
	return "http://" + serveWatchtower(t, cfg, openSQLite(t)).Addr()
}

func post(t *testing.T, url, token string, body []byte, gz bool) (int, string) {
	t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	req, _ := http.NewRequest("POST", url+"/api/v1/ingest", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func batchJSON(node string, seq uint64) []byte {
	b, _ := json.Marshal(telemetry.Batch{Version: 1, Node: node, Seq: seq, Start: time.Now().Add(-time.Minute), End: time.Now(),
		Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 1}, Bytes: map[string]uint64{"http": 10}}}})
	return b
}

func TestIngestAuthenticatesAndRefusesJunk(t *testing.T) {
	url := startWatchtower(t)
	tests := []struct {
		name  string
		token string
		body  []byte
		gz    bool
		want  int
	}{
		{"accepted", "token-a", batchJSON("a.mm.example.net", 1), true, 202},
		{"resend is a duplicate", "token-a", batchJSON("a.mm.example.net", 1), true, 200},
		{"plain body", "token-a", batchJSON("a.mm.example.net", 2), false, 202},
		{"no token", "", batchJSON("a.mm.example.net", 3), true, 401},
		{"unknown token", "token-z", batchJSON("a.mm.example.net", 3), true, 401},
		{"posting as another node", "token-b", batchJSON("a.mm.example.net", 3), true, 403},
		{"malformed", "token-a", []byte(`{"v":1,"node":`), true, 400},
		{"wrong version", "token-a", []byte(`{"v":7,"node":"a.mm.example.net","seq":9}`), true, 400},
		{"not gzip", "token-a", []byte("plain"), false, 400},
		{"oversized", "token-a", bytes.Repeat([]byte(" "), telemetry.MaxBatchBytes+10), true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			gz := tt.gz
			if tt.name == "not gzip" {
				req, _ := http.NewRequest("POST", url+"/api/v1/ingest", strings.NewReader("plain"))
				req.Header.Set("Authorization", "Bearer token-a")
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 400 {
					t.Fatalf("got %v %v", resp.StatusCode, err)
				}
				return
			}
			if code, msg := post(t, url, tt.token, body, gz); code != tt.want {
				t.Errorf("status %d (%s), want %d", code, msg, tt.want)
			}
		})
	}
	resp, _ := testenv.OperatorGet(url + "/api/v1/usage?group=node")
	var u struct {
		Rows []watchtower.UsageRow `json:"rows"`
	}
	json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if len(u.Rows) != 1 || u.Rows[0].Bytes != 20 {
		t.Errorf("usage after the junk = %+v (only the two accepted batches count)", u.Rows)
	}
	for _, q := range []string{"group=planet", "from=yesterday", "step=1s", "step=1m&from=0", fmt.Sprintf("from=%d&to=%d", time.Now().Unix(), time.Now().Unix()-5)} {
		if resp, _ := testenv.OperatorGet(url + "/api/v1/usage?" + q); resp.StatusCode != 400 {
			t.Errorf("usage?%s = %d, want 400", q, resp.StatusCode)
		}
	}
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := testenv.OperatorGet(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
	return resp.StatusCode
}

// TestUsageSeriesSponsorDemandMetrics: the planning and overview endpoints
// agree with what was ingested.
func TestUsageSeriesSponsorDemandMetrics(t *testing.T) {
	url := startWatchtower(t)
	for i, node := range []string{"a.mm.example.net", "b.mm.example.net"} {
		tok := "token-" + node[:1]
		for seq := uint64(1); seq <= 3; seq++ {
			if code, msg := post(t, url, tok, batchJSONAt(node, seq, time.Now().Add(-time.Duration(seq)*time.Minute), uint64(10*(i+1))), true); code != 202 {
				t.Fatalf("ingest: %d %s", code, msg)
			}
		}
	}
	var u struct {
		Rows   []watchtower.UsageRow `json:"rows"`
		Series []struct {
			Key    string             `json:"key"`
			Points []watchtower.Point `json:"points"`
		} `json:"series"`
	}
	if code := getJSON(t, url+"/api/v1/usage?group=sponsor&step=1m", &u); code != 200 {
		t.Fatalf("usage: %d", code)
	}
	if len(u.Rows) != 1 || u.Rows[0].Key != "Ziply" || u.Rows[0].Bytes != 90 || len(u.Series) != 1 || len(u.Series[0].Points) != 3 || u.Series[0].Points[0].Bytes != 30 {
		t.Errorf("sponsor usage = %+v", u)
	}
	var runs struct {
		Runs []watchtower.SyncRun `json:"runs"`
	}
	if code := getJSON(t, url+"/api/v1/syncs?node=a.mm.example.net&limit=2", &runs); code != 200 || len(runs.Runs) != 2 ||
		runs.Runs[0].Project != "debian" || !runs.Runs[0].Started.After(runs.Runs[1].Started) || runs.Runs[0].Bytes != 1<<20 {
		t.Errorf("sync runs = %d %+v", code, runs)
	}
	for _, q := range []string{"", "node=a.mm.example.net&limit=0", "node=a.mm.example.net&limit=10001", "node=a.mm.example.net&from=tomorrow"} {
		if resp, _ := testenv.OperatorGet(url + "/api/v1/syncs?" + q); resp.StatusCode != 400 {
			t.Errorf("syncs?%s = %d, want 400", q, resp.StatusCode)
		}
	}
	var d struct {
		Days []watchtower.DemandRow `json:"days"`
	}
	getJSON(t, url+"/api/v1/demand", &d)
	var total uint64
	for _, r := range d.Days {
		total += r.Bytes
	}
	if total != 90 || len(d.Days) < 2 {
		t.Errorf("demand = %+v", d.Days)
	}
	resp, _ := testenv.OperatorGet(url + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wants := []string{"micromirror_fleet_nodes 2", `micromirror_watchtower_batches_total{outcome="accepted"} 6`}
	if now := time.Now().UTC(); now.Sub(now.Truncate(24*time.Hour)) > 5*time.Minute { // all batches fell today
		wants = append(wants, `micromirror_fleet_served_bytes_today{project="debian"} 90`)
	}
	for _, want := range wants {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func batchJSONAt(node string, seq uint64, end time.Time, bytes uint64) []byte {
	b, _ := json.Marshal(telemetry.Batch{Version: 1, Node: node, Seq: seq, Start: end.Add(-time.Minute), End: end,
		Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 1}, Bytes: map[string]uint64{"http": bytes}}},
		Syncs:    []telemetry.SyncEvent{{Project: "debian", Started: end.Add(-30 * time.Second), Seconds: 20, Result: "success", BytesReceived: 1 << 20}}})
	return b
}

// TestOperatorToken: the operator's views and APIs want the operator's
// token (bearer or basic-auth password); a node's token, a wrong one or
// none get 401 with a prompt; without an operator token configured they
// are served to no one. The public page is one rendering per 30 s,
// whoever asks.
func TestOperatorToken(t *testing.T) {
	url := startWatchtower(t)
	var body string
	get := func(path string, auth func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return resp
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	if code, body := post(t, url, "token-a", batchJSON("a.mm.example.net", 1), false); code != 202 {
		t.Fatalf("push: %d %s", code, body)
	}
	for _, path := range []string{"/api/v1/nodes", "/api/v1/usage", "/api/v1/top", "/api/v1/demand", "/api/v1/syncs?node=a.mm.example.net",
		"/api/v1/alerts", "/metrics", "/nodes/a.mm.example.net", "/fleet", "/fleet?range=30d"} {
		for name, auth := range map[string]func(*http.Request){
			"none": nil, "a node's token": bearer("token-a"), "a wrong token": bearer(testenv.OperatorToken + "x"),
			"basic, wrong": func(r *http.Request) { r.SetBasicAuth("operator", "nope") },
		} {
			if resp := get(path, auth); resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s with %s: %d %q", path, name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
		for name, auth := range map[string]func(*http.Request){
			"bearer": bearer(testenv.OperatorToken),
			"basic":  func(r *http.Request) { r.SetBasicAuth("anyone", testenv.OperatorToken) },
		} {
			if resp := get(path, auth); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "private, no-store" {
				t.Errorf("%s with the operator's token (%s): %d %q", path, name, resp.StatusCode, resp.Header.Get("Cache-Control"))
			}
		}
	}
	for _, path := range []string{"/", "/?range=7d", "/sponsors/a.mm.example.net"} {
		if resp := get(path, nil); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "public") ||
			strings.Contains(body, "/nodes/") {
			t.Errorf("public page %s: %d %q", path, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	// Only configured nodes have a sponsor page (the cache keeps one
	// each); an unknown range is refused.
	for path, want := range map[string]int{"/sponsors/x.mm.example.net": 404, "/?range=1y": 400, "/fleet?range=1y": 400} {
		if resp := get(path, bearer(testenv.OperatorToken)); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// The public page is rendered once for everyone: a node that pushes
	// after it shows only on the operator's view.
	if code, body := post(t, url, "token-b", batchJSON("b.mm.example.net", 1), false); code != 202 {
		t.Fatalf("push: %d %s", code, body)
	}
	get("/", nil)
	public := body
	get("/fleet", bearer(testenv.OperatorToken))
	if strings.Contains(public, "b.mm.example.net") || !strings.Contains(body, "b.mm.example.net") {
		t.Errorf("the public page was rendered again within 30 s, or the operator's view is cached")
	}

	url = "http://" + serveWatchtower(t, watchtower.Config{}, openSQLite(t)).Addr()
	if resp := get("/api/v1/nodes", bearer(testenv.OperatorToken)); resp.StatusCode != 403 {
		t.Errorf("no operator configured: %d, want 403", resp.StatusCode)
	}
	if resp := get("/", nil); resp.StatusCode != 200 {
		t.Errorf("public page without an operator: %d", resp.StatusCode)
	}
}
