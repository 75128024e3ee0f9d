package hostile_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/yamlconf"
)

// TestNodeFramingHolds: the node's HTTP/1.1 front door refuses the heads
// that desync a keep-alive connection or never end, as nginx does. (The
// server's own suite, internal/httpd, has each case in detail; these are
// the same attacks on a whole node.)
func TestNodeFramingHolds(t *testing.T) {
	tg := startTarget(t, func(c *nodeconfig.Config) { c.Limits.HeaderTimeout = yamlconf.Dur(time.Second) })
	smuggled := "GET /debian/kib HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, req, want string
		responses       int
	}{
		{"space before a colon", "POST /debian/empty HTTP/1.1\r\nHost: x\r\nContent-Length : 38\r\n\r\n" + smuggled, "HTTP/1.1 400 ", 1},
		{"tab before a colon", "GET /debian/empty HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n" + smuggled, "HTTP/1.1 400 ", 1},
		{"folded field", "GET /debian/empty HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "HTTP/1.1 400 ", 1},
		{"two lengths", "POST /debian/empty HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 38\r\n\r\nabc" + smuggled, "HTTP/1.1 400 ", 1},
		{"a body is not a request", "POST /debian/empty HTTP/1.1\r\nHost: x\r\nContent-Length: 38\r\n\r\n" + smuggled, "HTTP/1.1 405 ", 1},
		{"chunked body is not a request", "POST /debian/empty HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n26\r\n" + smuggled + "\r\n0\r\n\r\n", "HTTP/1.1 405 ", 1},
		{"blank lines", strings.Repeat("\r\n", 3) + smuggled, "HTTP/1.1 400 ", 1},
		{"no Host", "GET /debian/kib HTTP/1.1\r\n\r\n", "HTTP/1.1 400 ", 1},
		{"two Hosts", "GET /debian/kib HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400 ", 1},
		{"NUL in a field", "GET /debian/kib HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", "HTTP/1.1 400 ", 1},
		{"HTTP/2 preface on HTTP/1.1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505 ", 1},
		{"an unknown expectation", "GET /debian/kib HTTP/1.1\r\nHost: x\r\nExpect: 42\r\n\r\n", "HTTP/1.1 417 ", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := raw(t, tg.http, tc.req)
			if !strings.HasPrefix(got, tc.want) || strings.Count(got, "HTTP/1.1 ") != tc.responses {
				t.Errorf("got:\n%.300s", got)
			}
		})
	}
	// A head dripped a byte at a time ends at the header timeout of its
	// first byte, blank lines or not.
	for _, drip := range []string{"\n", "GET /debian/kib HTTP/1.1\r\nX-Slow: " + strings.Repeat("a", 100)} {
		c, err := net.Dial("tcp", tg.http)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, c); close(done) }()
	drip:
		for i := 0; ; i++ {
			if _, err := c.Write([]byte{drip[i%len(drip)]}); err != nil {
				break
			}
			select {
			case <-done:
				break drip
			case <-time.After(200 * time.Millisecond):
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("a dripping client (%.10q) still connected after 10 s, header timeout 1 s", drip)
			}
		}
		c.Close()
	}
}
