package hostile_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/testenv"
)

// Soak sizes (make bench runs BenchmarkSoak; SOAK=10s shortens it,
// SOAK_BIN=path soaks another build).
const (
	soakSlowHeaders    = 2000
	soakStalledReaders = 500
	soakNormalClients  = 8
)

// BenchmarkSoak: a node (its own process, as deployed) under every
// hostile load at once for a minute: 2,000 clients dripping request
// heads, 500 that ask for a large file and never read, a flood of
// requests for distinct paths, while 8 normal clients fetch a small file
// in a loop. It reports the normal clients' failures and p99 latency
// beside an unloaded run, and the node's resident memory at the start,
// at its peak and after the load ends.
func BenchmarkSoak(b *testing.B) {
	dur := time.Minute
	if d, err := time.ParseDuration(os.Getenv("SOAK")); err == nil {
		dur = d
	}
	bin := os.Getenv("SOAK_BIN") // another build to compare, or this one
	userLine := "user: nobody"   // started as root, the node runs as nobody
	if bin == "" {
		bin = testenv.Binary(b)
	} else {
		userLine = "" // an older build may not know the key (nor drop root)
	}
	dir := testenv.PublicTempDir(b) // run as root, the node becomes nobody
	data := filepath.Join(dir, "data", "debian")
	testenv.WriteFile(b, filepath.Join(data, "dists/stable/Release"), bytes.Repeat([]byte("r"), 1024), syncedAt)
	testenv.WriteFile(b, filepath.Join(data, "empty"), nil, syncedAt)
	testenv.WriteFile(b, filepath.Join(data, "big.iso"), bytes.Repeat([]byte("i"), 64<<20), syncedAt)
	port, admin := testenv.FreePort(b), testenv.FreePort(b)
	conf := filepath.Join(dir, "node.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`name: soak.mm.example.net
sponsor: {name: Soak}
contact: noc@mm.example.net
data_dir: %s
state_dir: %s
%s
listen: {http: ["127.0.0.1:%d"], https: [], rsync: [], admin: ["127.0.0.1:%d"]}
limits: {max_connections: 20000}
projects: [{name: debian}]
`, filepath.Join(dir, "data"), filepath.Join(dir, "state"), userLine, port, admin)), 0o644)
	cmd := exec.Command(bin, "node", "-config", conf, "-log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			b.Fatal("the node did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rss := func() float64 { return residentMB(cmd.Process.Pid) }

	b.ResetTimer()
	quiet := normalClients(addr, 10*time.Second)
	start := rss()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var hostileReqs atomic.Int64
	for i := range soakSlowHeaders {
		wg.Add(1)
		go func() { defer wg.Done(); slowHeaders(addr, i, stop) }()
	}
	for range soakStalledReaders {
		wg.Add(1)
		go func() { defer wg.Done(); stalledReader(addr, stop) }()
	}
	for w := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); distinctPaths(addr, w, stop, &hostileReqs) }()
	}
	peak := start
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				peak = max(peak, rss())
			}
		}
	}()
	time.Sleep(5 * time.Second) // the hostile clients are all in
	loaded := normalClients(addr, dur)
	close(stop)
	wg.Wait()
	<-sampled
	time.Sleep(10 * time.Second)
	after := rss()
	b.StopTimer()

	b.ReportMetric(float64(quiet.failed+loaded.failed), "normal-failures")
	b.ReportMetric(float64(loaded.requests), "normal-requests")
	b.ReportMetric(quiet.p99, "ms-p99-unloaded")
	b.ReportMetric(loaded.p99, "ms-p99-loaded")
	b.ReportMetric(quiet.p50, "ms-p50-unloaded")
	b.ReportMetric(loaded.p50, "ms-p50-loaded")
	b.ReportMetric(float64(hostileReqs.Load()), "flood-requests")
	b.ReportMetric(start, "MB-rss-start")
	b.ReportMetric(peak, "MB-rss-peak")
	b.ReportMetric(after, "MB-rss-after")
}

// residentMB reads a process's resident memory.
func residentMB(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

type latencies struct {
	requests, failed int
	p50, p99         float64 // ms
}

// normalClients fetch a small file over kept-alive connections for d.
func normalClients(addr string, d time.Duration) latencies {
	var mu sync.Mutex
	var all []float64
	failed := 0
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range soakNormalClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for time.Now().Before(end) {
				t0 := time.Now()
				resp, err := client.Get("http://" + addr + "/debian/dists/stable/Release")
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = ok && n == 1024
				}
				ms := float64(time.Since(t0).Microseconds()) / 1000
				mu.Lock()
				all = append(all, ms)
				if !ok {
					failed++
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	slices.Sort(all)
	l := latencies{requests: len(all), failed: failed}
	if len(all) > 0 {
		l.p50, l.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return l
}

// slowHeaders drips a request head a byte a second and reconnects when
// the node drops it (its header timeout).
func slowHeaders(addr string, i int, stop chan struct{}) {
	time.Sleep(time.Duration(i%1000) * time.Millisecond) // not all at once
	head := "GET /debian/dists/stable/Release HTTP/1.1\r\nHost: x\r\nUser-Agent: " + strings.Repeat("s", 200)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				continue
			}
		}
		for j := 0; ; j++ {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte{head[j%len(head)]}); err != nil {
				break
			}
			select {
			case <-stop:
				c.Close()
				return
			case <-time.After(time.Second):
			}
		}
		c.Close()
	}
}

// stalledReader asks for the large file and never reads; past the
// node's send timeout (60 s) it has been dropped, and comes again.
func stalledReader(addr string, stop chan struct{}) {
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			io.WriteString(c, "GET /debian/big.iso HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		select {
		case <-stop:
			if c != nil {
				c.Close()
			}
			return
		case <-time.After(65 * time.Second):
		}
		if c != nil {
			c.Close()
		}
	}
}

// distinctPaths floods the node with requests for distinct names of
// existing files (each a new key for anything that keeps per-path state).
func distinctPaths(addr string, w int, stop chan struct{}, n *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		go func() {
			bw := bufio.NewWriter(c)
			for j := range 500 {
				k := (i*500+j)*4 + w
				fmt.Fprintf(bw, "GET /debian/%s%sempty?%d HTTP/1.1\r\nHost: x\r\n\r\n", strings.Repeat("./", 1+k%300), strings.Repeat("/", k%2000), k)
			}
			bw.Flush()
		}()
		br := bufio.NewReader(c)
		for range 500 {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			n.Add(1)
		}
		c.Close()
	}
}
