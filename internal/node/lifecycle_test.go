package node_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"micromirror/internal/accesslog"
	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/testenv/logbuf"
	"micromirror/internal/yamlconf"
)

// TestRateLimitSparesCheckersByAddress: the checkers' networks are never
// rate-limited; a client that only says it is a checker (its user agent)
// is limited like any other. (The node used to exempt any client sending
// a checker's user agent.)
func TestRateLimitSparesCheckersByAddress(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	cfg.Limits.RateLimit.PerSecond = 0.5
	cfg.Limits.RateLimit.Burst = 3
	cfg.Limits.RateLimit.All = true
	cfg.Limits.CheckerNetworks = []string{"::1/128"} // the checkers come over IPv6 here
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/Release"), []byte("x"), syncedAt)
	n := testenv.StartNode(t, cfg)
	url := testenv.URL("http", n.HTTPAddrs()[0]) + "/debian/Release"
	var codes []string
	for range 5 {
		codes = append(codes, statusOf(t, url))
	}
	if got := strings.Join(codes, " "); got != "200 200 200 429 429" {
		t.Errorf("statuses = %s, want burst of 3 then 429", got)
	}
	if ra := headerOf(curl(t, "-i", url), "Retry-After"); ra == "" {
		t.Errorf("429 without Retry-After")
	}
	// A checker's user agent from elsewhere is only a claim.
	for _, ua := range []string{"Mirrorbits/0.6 PING CHECK", "mirrormanager-crawler/2.0", "archweb/mirrorcheck"} {
		if code := statusOf(t, "-I", "-A", ua, url); code != "429" {
			t.Errorf("a client claiming to be %q got %s, want 429", ua, code)
		}
	}
	// The checkers' network sends bursts of HEADs, never limited.
	url6 := testenv.URL("http", n.HTTPAddrs()[1]) + "/debian/Release"
	for range 10 {
		if code := statusOf(t, "-I", "-A", "Mirrorbits/0.6 PING CHECK", url6); code != "200" {
			t.Fatalf("checker network got %s", code)
		}
	}
	// Limits apply only to the listed networks unless all is set.
	cfg2 := testenv.NodeConfig(t, "debian")
	cfg2.Limits.RateLimit = cfgRate(0.5, 1, "192.0.2.0/24")
	n2 := testenv.StartNode(t, cfg2)
	url2 := testenv.URL("http", n2.HTTPAddrs()[0]) + "/"
	for range 5 {
		if code := statusOf(t, url2); code != "200" {
			t.Fatalf("client outside the limited networks got %s", code)
		}
	}
}

func TestBlocklistAndReload(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	bl := filepath.Join(t.TempDir(), "blocklist")
	os.WriteFile(bl, []byte("# abusive\n127.0.0.0/8\n"), 0o644)
	cfg.Limits.Blocklist = bl
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/Release"), []byte("x"), syncedAt)
	n := testenv.StartNode(t, cfg)
	url := testenv.URL("http", n.HTTPAddrs()[0]) + "/debian/Release"
	if code := statusOf(t, url); code != "403" {
		t.Errorf("blocked client got %s, want 403", code)
	}
	// The blocklist applies to everyone, whatever they say they are.
	if code := statusOf(t, "-A", "Mirrorbits/0.6 PING CHECK", url); code != "403" {
		t.Errorf("a checker's user agent got %s on a blocked network, want 403", code)
	}
	// IPv6 loopback is not in the list.
	if code := statusOf(t, testenv.URL("http", n.HTTPAddrs()[1])+"/debian/Release"); code != "200" {
		t.Errorf("unlisted client got %s", code)
	}

	// A keep-alive connection opened before the reload survives it.
	conn, err := net.Dial("tcp", n.HTTPAddrs()[1].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	get := func() string {
		conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := br.ReadString('\n')
		// drain headers and body
		var clen int
		for {
			h, err := br.ReadString('\n')
			if err != nil || h == "\r\n" {
				break
			}
			if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Content-Length") {
				clen = atoi(strings.TrimSpace(v))
			}
		}
		buf := make([]byte, clen)
		br.Read(buf)
		for len(buf) > 0 && br.Buffered() > 0 {
			br.Read(buf)
		}
		return line
	}
	if l := get(); !strings.HasPrefix(l, "HTTP/1.1 200") {
		t.Fatalf("keep-alive GET: %q", l)
	}

	os.WriteFile(bl, []byte("# nobody\n"), 0o644)
	cfg.Sponsor.Name = "Renamed Sponsor"
	if err := n.Reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if code := statusOf(t, url); code != "200" {
		t.Errorf("after reload got %s, want 200", code)
	}
	if page := curl(t, testenv.URL("http", n.HTTPAddrs()[0])+"/"); !strings.Contains(page, "Renamed Sponsor") {
		t.Errorf("reload did not change the sponsor")
	}
	if l := get(); !strings.HasPrefix(l, "HTTP/1.1 200") {
		t.Errorf("connection from before the reload: %q", l)
	}

	// A broken blocklist is reported and the one in force stays.
	os.WriteFile(bl, []byte("127.0.0.0/8\nnot-an-address\n"), 0o644)
	err = n.Reload(cfg)
	if err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("bad blocklist line not reported with its line: %v", err)
	}
	if code := statusOf(t, url); code != "200" {
		t.Errorf("bad blocklist took effect: %s", code)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestAccessLogAndCounters(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/pool/a.deb"), make([]byte, 12345), syncedAt)
	n := testenv.StartNode(t, cfg)
	base := testenv.URL("http", n.HTTPAddrs()[0])
	curl(t, "-o", "/dev/null", "-A", "apt/2.6 \"quoted\"", "-e", "http://ref.example/", base+"/debian/pool/a.deb")
	statusOf(t, base+"/debian/missing.deb")
	// HTTP/1.1: see the recorder's note on HTTP/2 clients that hang up at once.
	curl(t, "-k", "--http1.1", "-o", "/dev/null", testenv.URL("https", n.HTTPSAddrs()[0])+"/debian/pool/a.deb")
	curl(t, "-o", "/dev/null", testenv.URL("http", n.HTTPAddrs()[1])+"/debian/pool/a.deb")

	// The log line is written just after the response, so curl can finish
	// first: wait until all four requests are accounted for.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c := n.Traffic().Project("debian"); c.Requests[0].Load()+c.Requests[1].Load() == 4 {
			break
		}
	}
	// Rotate: move the file away, reload, and the next line lands in a new file.
	rotated := cfg.AccessLog + ".1"
	os.Rename(cfg.AccessLog, rotated)
	if err := n.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	statusOf(t, base+"/")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx) // flushes

	old, _ := os.ReadFile(rotated)
	lines := strings.Split(strings.TrimSpace(string(old)), "\n")
	if len(lines) != 4 {
		t.Fatalf("rotated log has %d lines:\n%s", len(lines), old)
	}
	remote, req, st, bytes, err := accesslog.ParseLine(lines[0])
	if err != nil || remote != "127.0.0.1" || req != "GET /debian/pool/a.deb HTTP/1.1" || st != 200 || bytes != 12345 {
		t.Errorf("line 1 = %q (%v)", lines[0], err)
	}
	if !strings.Contains(lines[0], `"http://ref.example/" "apt/2.6 \x22quoted\x22"`) {
		t.Errorf("referer/user agent not logged escaped: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"GET /debian/missing.deb HTTP/1.1" 404`) || !strings.HasPrefix(lines[3], "::1 ") {
		t.Errorf("lines = %q", lines)
	}
	fresh, _ := os.ReadFile(cfg.AccessLog)
	if !strings.Contains(string(fresh), `"GET / HTTP/1.1" 200`) {
		t.Errorf("reopened log: %q", fresh)
	}

	for _, s := range n.Traffic().Snapshot() {
		if s.Project != "debian" {
			continue
		}
		if s.Requests["http"] != 3 || s.Requests["https"] != 1 || s.Bytes["https"] != 12345 || s.IPv6 != 1 || s.IPv4 != 3 ||
			s.StatusClasses["2xx"] != 3 || s.StatusClasses["4xx"] != 1 {
			t.Errorf("debian counters = %+v", s)
		}
		return
	}
	t.Errorf("no debian counters")
}

// TestGracefulShutdownFinishesDownloads: once Close begins the node
// accepts no one, and a download under way runs to its end. The client
// holds its reading until shutdown has begun, and the file is larger
// than loopback's socket buffers, so the node is still sending then.
// Before, curl's rate limit was meant to keep it under way, but curl
// sent a 4 MiB file in 0.1 s, before shutdown began.
func TestGracefulShutdownFinishesDownloads(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	size := 64 << 20
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/big.iso"), make([]byte, size), syncedAt)
	n := testenv.StartNode(t, cfg)
	resp, err := http.Get(testenv.URL("http", n.HTTPAddrs()[0]) + "/debian/big.iso")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.CopyN(io.Discard, resp.Body, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- n.Close(ctx) }()
	waitFor(t, "the listener closed", func() bool {
		c, err := net.DialTimeout("tcp", n.HTTPAddrs()[0].String(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a download under way", err)
	default:
	}
	rest, err := io.Copy(io.Discard, resp.Body)
	if err != nil || got+rest != int64(size) {
		t.Fatalf("download cut by shutdown: %d of %d bytes, %v", got+rest, size, err)
	}
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
}

func TestConnectionCap(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	cfg.Limits.MaxConnections = 2
	n := testenv.StartNode(t, cfg)
	addr := n.HTTPAddrs()[0].String()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	waitFor(t, "both connections accepted", func() bool { return metric(t, n, "micromirror_open_connections") == "2" })
	if _, err := testenv.Curl(t, "-o", "/dev/null", "http://"+addr+"/"); err == nil {
		t.Errorf("third connection served past the cap")
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "the held connections closed", func() bool { return metric(t, n, "micromirror_open_connections") == "0" })
	if code := statusOf(t, "http://"+addr+"/"); code != "200" {
		t.Errorf("after closing, got %s", code)
	}
}

func cfgRate(perSec float64, burst int, nets ...string) nodeconfig.Rate {
	return nodeconfig.Rate{PerSecond: perSec, Burst: burst, Networks: nets}
}

// metric reads one sample from the node's /metrics.
func metric(t *testing.T, n *node.Node, sample string) string {
	t.Helper()
	for _, line := range strings.Split(curl(t, testenv.URL("http", n.AdminAddrs()[0])+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

// TestReloadKeepsRuntimeState: a reload (logrotate's SIGHUP every night)
// keeps the file cache, the guard's counters and the rate limiter's
// buckets, and names every change it cannot apply. It rebuilt all three:
// the cache emptied and the counters restarted at 0.
func TestReloadKeepsRuntimeState(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	bl := filepath.Join(t.TempDir(), "blocklist")
	os.WriteFile(bl, []byte("::1/128\n"), 0o644)
	cfg.Limits.Blocklist = bl
	cfg.Limits.RateLimit = nodeconfig.Rate{PerSecond: 0.01, Burst: 2, All: true}
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/Release"), []byte("x"), syncedAt)
	var logs logbuf.Buffer
	n := node.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := n.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	v4, v6 := testenv.URL("http", n.HTTPAddrs()[0])+"/debian/Release", testenv.URL("http", n.HTTPAddrs()[1])+"/debian/Release"
	statusOf(t, v4)
	statusOf(t, v4) // cached now, and the burst spent
	statusOf(t, v6) // blocked
	before := []string{metric(t, n, "micromirror_file_cache_entries"), metric(t, n, `micromirror_refused_total{reason="blocklist"}`)}
	if before[0] != "1" || before[1] != "1" {
		t.Fatalf("before the reload: cache entries %s, blocked %s", before[0], before[1])
	}
	next := cfg
	next.Limits.IdleTimeout = yamlconf.Dur(time.Minute) // cannot be applied
	next.Listen.HTTP = append(slices.Clone(cfg.Listen.HTTP), "127.0.0.1:0")
	if err := n.Reload(next); err != nil {
		t.Fatal(err)
	}
	after := []string{metric(t, n, "micromirror_file_cache_entries"), metric(t, n, `micromirror_refused_total{reason="blocklist"}`)}
	if !slices.Equal(after, before) {
		t.Errorf("after the reload: cache entries %s, blocked %s; want %v", after[0], after[1], before)
	}
	if code := statusOf(t, v4); code != "429" {
		t.Errorf("the rate limit forgot a client over its burst: %s", code)
	}
	if l := logs.String(); !strings.Contains(l, "limits.idle_timeout") || !strings.Contains(l, "listen.http") {
		t.Errorf("the changes a reload cannot apply are not named:\n%s", l)
	}
}

// TestReloadSyncsAChangedSource: a project whose source (or any other
// part of its sync plan) changes in a reload syncs from the new one at
// once, not at its next scheduled slot, hours later; so a rollout sees a
// source that does not work while it still watches the node. An
// unchanged project is not run again.
func TestReloadSyncsAChangedSource(t *testing.T) {
	srcA, srcB, other := t.TempDir(), t.TempDir(), t.TempDir()
	testenv.WriteFile(t, filepath.Join(srcA, "from-a"), []byte("a"), syncedAt)
	testenv.WriteFile(t, filepath.Join(srcB, "from-b"), []byte("b"), syncedAt)
	testenv.WriteFile(t, filepath.Join(other, "file"), []byte("o"), syncedAt)
	up := testenv.StartUpstream(t, map[string]string{"a": srcA, "b": srcB, "other": other})
	cfg := testenv.NodeConfig(t)
	cfg.Projects = []nodeconfig.Project{{Name: "gimp", Source: up.URL("a"), Schedule: yamlconf.Dur(24 * time.Hour)},
		{Name: "videolan", Source: up.URL("other"), Schedule: yamlconf.Dur(24 * time.Hour)}}
	n := testenv.StartNode(t, cfg)
	runs := func() (gimp, videolan uint64) {
		st := n.Engine().Status()
		return st[0].Runs, st[1].Runs
	}
	waitFor(t, "the catch-up runs", func() bool { g, v := runs(); return g == 1 && v == 1 })
	next := cfg
	next.Projects = slices.Clone(cfg.Projects)
	next.Projects[0].Source = up.URL("b")
	if err := n.Reload(next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gimp synced from its new source", func() bool {
		_, err := os.Stat(filepath.Join(cfg.DataDir, "gimp/from-b"))
		return err == nil
	})
	if _, v := runs(); v != 1 {
		t.Errorf("videolan, unchanged, ran again: %d runs", v)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A node makes what it owns: an access log in a directory of its state
// tree that is not there yet (a fresh state_dir) is created, not a
// failed start.
func TestAccessLogDirInStateDirIsMade(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	cfg.AccessLog = filepath.Join(cfg.StateDir, "log", "access.log")
	n := testenv.StartNode(t, cfg)
	statusOf(t, testenv.URL("http", n.HTTPAddrs()[0])+"/")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	if b, err := os.ReadFile(cfg.AccessLog); err != nil || !strings.Contains(string(b), `"GET / HTTP/1.1" 200`) {
		t.Errorf("access log: %q %v", b, err)
	}
}

// TestCleanShutdownLogsNoError: closing a node that served HTTPS (HTTP/1.1
// and HTTP/2) logs no error. The HTTP/2 server's end was logged as
// "serve http/2 ... use of closed network connection" at every stop.
func TestCleanShutdownLogsNoError(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	var logs logbuf.Buffer
	n := node.New(cfg, testenv.LoggerTo(t, &logs))
	if err := n.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	base := testenv.URL("https", n.HTTPSAddrs()[0])
	curl(t, "-k", "--http2", "-o", "/dev/null", base+"/")
	curl(t, "-k", "--http1.1", "-o", "/dev/null", base+"/")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a clean shutdown logged an error:\n%s", logs.String())
	}
}
