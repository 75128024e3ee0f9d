// Package hostile_test is the hostile-client suite: a real node on
// loopback, attacked as the open Internet does, with raw sockets and
// real clients (curl, rsync, openssl), each attack bounded in time and
// count. Every case here was found failing against the node and fixed;
// nginx and rsyncd do at least as well on each.
package hostile_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
)

var syncedAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// target is a node under attack and its tree.
type target struct {
	n     *node.Node
	cfg   nodeconfig.Config
	deb   string // the debian tree
	http  string // host:port
	https string
	admin string
}

// startTarget boots a node serving debian (with telemetry on, so its
// usage counters run, towards a watchtower that is not there) after tune
// adjusts its config.
func startTarget(t *testing.T, tune func(*nodeconfig.Config)) *target {
	t.Helper()
	cfg := testenv.NodeConfig(t, "debian")
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("t0ken"), 0o600)
	cfg.Telemetry.URL = "http://127.0.0.1:9/api/v1/ingest" // discard: nothing listens
	cfg.Telemetry.TokenFile = token
	if tune != nil {
		tune(&cfg)
	}
	tg := &target{cfg: cfg, deb: filepath.Join(cfg.DataDir, "debian")}
	testenv.WriteFile(t, filepath.Join(tg.deb, "dists/stable/Release"), []byte("Origin: Debian\n"), syncedAt)
	testenv.WriteFile(t, filepath.Join(tg.deb, "empty"), nil, syncedAt)
	testenv.WriteFile(t, filepath.Join(tg.deb, "kib"), []byte(strings.Repeat("k", 1024)), syncedAt)
	tg.n = testenv.StartNode(t, cfg)
	tg.http = tg.n.HTTPAddrs()[0].String()
	tg.https = tg.n.HTTPSAddrs()[0].String()
	tg.admin = tg.n.AdminAddrs()[0].String()
	return tg
}

// raw sends bytes on a new connection, shuts the sending side and
// returns what came back until the node closed (or 5 s passed).
func raw(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b)
}

// get sends one request line and host, and reads the response.
func get(t *testing.T, addr, method, target string, headers ...string) *http.Response {
	t.Helper()
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: test.mm.example.net\r\nConnection: close\r\n", method, target)
	for _, h := range headers {
		req += h + "\r\n"
	}
	out := raw(t, addr, req+"\r\n")
	r := &http.Request{Method: method}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), r)
	if err != nil {
		t.Fatalf("%s %.80s: %v (%.80q)", method, target, err, out)
	}
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metric reads one sample from the node's admin /metrics.
func metric(t *testing.T, tg *target, sample string) string {
	t.Helper()
	out := raw(t, tg.admin, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
