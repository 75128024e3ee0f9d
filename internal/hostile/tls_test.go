package hostile_test

import (
	"crypto/tls"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// TestNodeTLSHolds: clients that stall or break the TLS handshake, or
// reset in the middle of a request, are closed without costing the node
// a worker, and it serves on; TLS before 1.2 is refused. (internal/httpd
// has the resets that panicked its record reader, and the KeyUpdates
// that pinned its workers.)
func TestNodeTLSHolds(t *testing.T) {
	tg := startTarget(t, func(c *nodeconfig.Config) { c.Limits.HeaderTimeout = yamlconf.Dur(time.Second) })
	closedWithin := func(name string, c net.Conn, limit time.Duration) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(limit))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("%s: still open after %v: %v", name, limit, err)
		}
		c.Close()
	}
	// A handshake that never starts, and one that stops half-way.
	silent, err := net.Dial("tcp", tg.https)
	if err != nil {
		t.Fatal(err)
	}
	half, err := net.Dial("tcp", tg.https)
	if err != nil {
		t.Fatal(err)
	}
	half.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc}) // a ClientHello's start
	// Garbage where a ClientHello belongs.
	junk, err := net.Dial("tcp", tg.https)
	if err != nil {
		t.Fatal(err)
	}
	junk.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	// Resets in the middle of a request.
	for range 50 {
		c, err := tls.Dial("tcp", tg.https, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /debian/kib HTTP/1.1\r\nHo")
		c.NetConn().(*net.TCPConn).SetLinger(0)
		c.NetConn().Close()
	}
	closedWithin("a silent handshake", silent, 5*time.Second)
	closedWithin("a handshake stopped half-way", half, 5*time.Second)
	closedWithin("plain HTTP on the TLS port", junk, 5*time.Second)
	// Protocols the node does not speak.
	if _, err := exec.LookPath("openssl"); err == nil {
		out, _ := exec.Command("openssl", "s_client", "-connect", tg.https, "-tls1_1", "-brief").CombinedOutput()
		if strings.Contains(string(out), "Protocol version: TLSv1.1") {
			t.Errorf("TLS 1.1 accepted:\n%s", out)
		}
	}
	if out, err := testenv.Curl(t, "-k", "-o", "/dev/null", "-w", "%{http_code}", "https://"+tg.https+"/debian/kib"); err != nil || out != "200" {
		t.Errorf("after the hostile clients: %q %v", out, err)
	}
}
