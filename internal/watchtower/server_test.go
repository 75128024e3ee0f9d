package watchtower_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/store/sqlite"
	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

func startWatchtower(t *testing.T) string {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := watchtower.Config{Nodes: []watchtower.NodeConfig{
		{Name: "a.mm.example.net", TokenSHA256: watchtower.HashToken("token-a")},
		{Name: "b.mm.example.net", TokenSHA256: watchtower.HashToken("token-b")},
	}}
	s := watchtower.NewServer(cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go s.Serve("", "")
	t.Cleanup(func() { s.Close(context.Background()) })
	return "http://" + s.Addr()
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
	resp, _ := http.Get(url + "/api/v1/usage?group=node")
	var u struct {
		Rows []watchtower.UsageRow `json:"rows"`
	}
	json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if len(u.Rows) != 1 || u.Rows[0].Bytes != 20 {
		t.Errorf("usage after the junk = %+v (only the two accepted batches count)", u.Rows)
	}
	for _, q := range []string{"group=sponsor", "from=yesterday", fmt.Sprintf("from=%d&to=%d", time.Now().Unix(), time.Now().Unix()-5)} {
		if resp, _ := http.Get(url + "/api/v1/usage?" + q); resp.StatusCode != 400 {
			t.Errorf("usage?%s = %d, want 400", q, resp.StatusCode)
		}
	}
}
