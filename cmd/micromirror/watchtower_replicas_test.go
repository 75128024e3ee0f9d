package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// TestWatchtowerReplicas: three watchtower processes on one PostgreSQL.
// One leads: the node is probed once a round, not three times, and its
// alert fires once. The leader is killed (SIGKILL: no goodbye); another
// takes over within a few rounds: probes go on, a new alert fires once,
// and the first alert's resolve is sent once. No webhook message is
// doubled or lost.
func TestWatchtowerReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	pgURL := testenv.StartPostgres(t)
	bin := testenv.Binary(t)

	// The node: its root page answers the probe, until told to fail.
	var probes atomic.Int64
	var failing atomic.Bool
	nodeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"version":1,"node":"n1.mm.example.net","projects":[]}`)
	}))
	defer nodeSrv.Close()
	// The webhook: every message it takes.
	var mu sync.Mutex
	var messages []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p watchtower.WebhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		messages = append(messages, p.Status+" "+p.Alert.Key)
		mu.Unlock()
	}))
	defer hook.Close()
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), messages...)
	}
	count := func(msg string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, m := range messages {
			if m == msg {
				n++
			}
		}
		return n
	}

	type replica struct {
		cmd    *exec.Cmd
		port   int
		stderr *bytes.Buffer
	}
	var replicas []*replica
	var logMu sync.Mutex // the replicas write their logs while the test reads them
	for range 3 {
		dir := t.TempDir()
		r := &replica{port: testenv.FreePort(t), stderr: &bytes.Buffer{}}
		cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
db: %q
operator_token_sha256: %s
probe_every: 1s
alerts: {every: 1s, webhook: %q}
nodes:
  - {name: n1.mm.example.net, token_sha256: %s, probes: [%q]}
`, r.port, pgURL, watchtower.HashToken(testenv.OperatorToken), hook.URL, watchtower.HashToken("node-token"), nodeSrv.URL+"/")
		os.WriteFile(filepath.Join(dir, "wt.yaml"), []byte(cfg), 0o644)
		r.cmd = exec.Command(bin, "watchtower", "-config", filepath.Join(dir, "wt.yaml"))
		r.cmd.Stderr = &lockedWriter{mu: &logMu, w: r.stderr}
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
		replicas = append(replicas, r)
	}
	logs := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		var sb strings.Builder
		for i, r := range replicas {
			fmt.Fprintf(&sb, "--- replica %d\n%s", i, r.stderr.String())
		}
		return sb.String()
	}
	leader := func() int {
		logMu.Lock()
		defer logMu.Unlock()
		at := -1
		for i, r := range replicas {
			if r.cmd.ProcessState == nil && strings.Count(r.stderr.String(), `msg="leading:`) > strings.Count(r.stderr.String(), `msg="no longer leading`) {
				if at >= 0 {
					return -2 // two leaders
				}
				at = i
			}
		}
		return at
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20 s; webhook got %v\n%s", what, sent(), logs())
			}
		}
	}

	// The node never pushed: it is silent, and fires once.
	waitFor("the silent node's alert", func() bool { return count("firing node-silent/n1.mm.example.net") > 0 })
	first := leader()
	if first < 0 {
		t.Fatalf("leader = %d\n%s", first, logs())
	}
	// Probed once a round by the leader alone: 1 s rounds, 3 replicas.
	before := probes.Load()
	time.Sleep(4 * time.Second)
	if n := probes.Load() - before; n < 2 || n > 6 {
		t.Errorf("%d probes in 4 s of 1 s rounds: the node is probed by %s", n, map[bool]string{true: "more than one replica", false: "none"}[n > 6])
	}

	// The leader dies without a word; another leads within a few rounds.
	replicas[first].cmd.Process.Signal(syscall.SIGKILL)
	replicas[first].cmd.Wait()
	failing.Store(true)
	waitFor("the probe's alert from the next leader", func() bool { return count("firing probe-failing/n1.mm.example.net/http-ipv4") > 0 })
	if next := leader(); next < 0 || next == first {
		t.Errorf("leader after the kill = %d (was %d)\n%s", next, first, logs())
	}
	before = probes.Load()
	time.Sleep(3 * time.Second)
	if n := probes.Load() - before; n < 1 || n > 5 {
		t.Errorf("%d probes in 3 s after the takeover", n)
	}

	// The node pushes, to a replica that survived: the first alert
	// resolves, once.
	alive := replicas[(first+1)%3]
	b, _ := json.Marshal(telemetry.Batch{Version: 1, Node: "n1.mm.example.net", Seq: 1, Start: time.Now().Add(-time.Minute), End: time.Now()})
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/api/v1/ingest", alive.port), bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer node-token")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("push: %v %v", resp, err)
	}
	waitFor("the resolve", func() bool { return count("resolved node-silent/n1.mm.example.net") > 0 })
	time.Sleep(3 * time.Second) // rounds enough for a second message to show
	for _, m := range []string{"firing node-silent/n1.mm.example.net", "firing probe-failing/n1.mm.example.net/http-ipv4", "resolved node-silent/n1.mm.example.net"} {
		if n := count(m); n != 1 {
			t.Errorf("%q sent %d times", m, n)
		}
	}
	if got := sent(); len(got) != 3 {
		t.Errorf("webhook messages: %v", got)
	}
	// Every replica shows the same open alerts.
	for i, r := range replicas {
		if i == first {
			continue
		}
		resp, err := testenv.OperatorGet(fmt.Sprintf("http://127.0.0.1:%d/api/v1/alerts", r.port))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Alerts []watchtower.Alert `json:"alerts"`
		}
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if len(got.Alerts) != 1 || got.Alerts[0].Key != "probe-failing/n1.mm.example.net/http-ipv4" {
			t.Errorf("replica %d shows %+v", i, got.Alerts)
		}
	}
}

// lockedWriter serialises a process's log writes with the test's reads.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
