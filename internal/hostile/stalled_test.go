package hostile_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// TestStalledReadersDropped: clients that ask for a large file and never
// read are dropped once the send timeout passed without progress, over
// HTTP and HTTPS. 200 such clients held their connections, goroutines and
// descriptors for ever (nginx drops them after its send_timeout).
func TestStalledReadersDropped(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	tg := startTarget(t, func(c *nodeconfig.Config) { c.Limits.SendTimeout = yamlconf.Dur(2 * time.Second) })
	testenv.WriteFile(t, filepath.Join(tg.deb, "big.iso"), bytes.Repeat([]byte("s"), 32<<20), syncedAt)
	open := func() int {
		n, _ := strconv.Atoi(metric(t, tg, "micromirror_open_connections"))
		return n
	}
	base := open()
	var conns []net.Conn
	for i := range 100 {
		var c net.Conn
		var err error
		if i%2 == 0 {
			c, err = net.Dial("tcp", tg.http)
		} else {
			c, err = tls.Dial("tcp", tg.https, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /debian/big.iso HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
		conns = append(conns, c)
	}
	// (Under the race detector the first may be dropped already.)
	if n := open(); n < base+50 {
		t.Fatalf("%d connections open, want about %d", n, base+100)
	}
	deadline := time.Now().Add(15 * time.Second)
	for open() > base+2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 100 stalled readers still connected 15 s after a 2 s send timeout", open()-base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
