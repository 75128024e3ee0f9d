package hostile_test

import (
	"bytes"
	"crypto/tls"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// h2conn is a raw HTTP/2 client: frames as a hostile client writes them.
type h2conn struct {
	c  *tls.Conn
	fr *http2.Framer
}

// dialH2 connects, sends the preface and SETTINGS (an initial window of
// window bytes), and reads the server's SETTINGS.
func dialH2(t *testing.T, addr string, window uint32) (*h2conn, http2.Setting) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatal("h2 not negotiated")
	}
	c.Write([]byte(http2.ClientPreface))
	h := &h2conn{c: c, fr: http2.NewFramer(c, c)}
	h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window})
	var streams http2.Setting
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			streams = http2.Setting{ID: http2.SettingMaxConcurrentStreams}
			streams.Val, _ = sf.Value(http2.SettingMaxConcurrentStreams)
			h.fr.WriteSettingsAck()
			return h, streams
		}
	}
}

// get opens a stream for path.
func (h *h2conn) get(id uint32, path string) error {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "test.mm.example.net"}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
}

// TestHTTP2StalledStreamsReset: streams a client gives no flow-control
// window are reset once the send timeout passed without progress, and a
// connection carries at most 128 at once. Such streams were never reset:
// 5,000 of them held 200 MiB, a 32 KiB copy buffer each.
func TestHTTP2StalledStreamsReset(t *testing.T) {
	tg := startTarget(t, func(c *nodeconfig.Config) { c.Limits.SendTimeout = yamlconf.Dur(time.Second) })
	testenv.WriteFile(t, filepath.Join(tg.deb, "big.iso"), bytes.Repeat([]byte("i"), 4<<20), syncedAt)
	h, max := dialH2(t, tg.https, 0) // a zero window: nothing may be sent
	defer h.c.Close()
	if max.Val == 0 || max.Val > 128 {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want 1-128", max.Val)
	}
	const streams = 100
	for i := range streams {
		if err := h.get(uint32(2*i+1), "/debian/big.iso"); err != nil {
			t.Fatal(err)
		}
	}
	reset := map[uint32]bool{}
	start := time.Now()
	h.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for len(reset) < streams {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("%d of %d stalled streams reset after %v: %v", len(reset), streams, time.Since(start).Round(time.Millisecond), err)
		}
		if rf, ok := f.(*http2.RSTStreamFrame); ok {
			reset[rf.StreamID] = true
		}
	}
	t.Logf("%d stalled streams reset in %v", streams, time.Since(start).Round(time.Millisecond))
}

// TestHTTP2RapidReset: a client opening streams and resetting them at
// once (CVE-2023-44487) cannot keep the server working for it without
// bound: net/http's limit on handlers closes such a connection or holds
// its work, and another client is still served meanwhile.
func TestHTTP2RapidReset(t *testing.T) {
	tg := startTarget(t, nil)
	h, _ := dialH2(t, tg.https, 65535)
	defer h.c.Close()
	done := make(chan int)
	go func() {
		n := 0
		for i := range 20000 {
			id := uint32(2*i + 1)
			if h.get(id, "/debian/kib") != nil || h.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				break
			}
			n++
		}
		done <- n
	}()
	// Meanwhile an ordinary client.
	for i := range 3 {
		out, err := testenv.Curl(t, "-k", "--http2", "-o", "/dev/null", "-w", "%{http_code}", "https://"+tg.https+"/debian/kib")
		if err != nil || out != "200" {
			t.Fatalf("request %d beside the resets: %q, %v", i, out, err)
		}
	}
	sent := <-done
	t.Logf("the resetting client sent %d HEADERS+RST_STREAM pairs", sent)
	// The server's side of it: the connection ended with a GOAWAY or
	// a close, or it still answers a PING (it was not overwhelmed).
	h.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	h.fr.WritePing(false, [8]byte{1})
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return // closed: fine
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			t.Logf("GOAWAY %v", f.ErrCode)
			return
		case *http2.PingFrame:
			if f.IsAck() {
				return
			}
		}
	}
}

// TestHTTP2StreamsCapped: over all connections at once the node answers
// a bounded number of streams; past it, 503 at once. (Ensures the memory
// stalled streams can hold is bounded whatever the connections.)
func TestHTTP2StreamsCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	if testing.Short() {
		t.Skip("opens 2,200 streams")
	}
	tg := startTarget(t, func(c *nodeconfig.Config) { c.Limits.SendTimeout = yamlconf.Dur(20 * time.Second) })
	testenv.WriteFile(t, filepath.Join(tg.deb, "big.iso"), bytes.Repeat([]byte("i"), 1<<20), syncedAt)
	var conns []*h2conn
	defer func() {
		for _, h := range conns {
			h.c.Close()
		}
	}()
	before := heapInUse()
	for range 18 { // 18 x 128 = 2,304 streams, past the node's 2,048
		h, _ := dialH2(t, tg.https, 0)
		conns = append(conns, h)
		for i := range 128 {
			h.get(uint32(2*i+1), "/debian/big.iso")
		}
	}
	time.Sleep(500 * time.Millisecond) // every handler is waiting for a window
	perStream := (int64(heapInUse()) - int64(before)) / 2048
	t.Logf("heap per stalled stream: %.1f KiB", float64(perStream)/1024)
	if perStream > 48<<10 {
		t.Errorf("a stalled stream holds %d KiB of heap", perStream>>10)
	}
	// Every stream past the cap is answered 503 (a HEADERS frame with
	// :status 503), without waiting for a window.
	var busy atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for _, h := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := hpack.NewDecoder(4096, nil)
			h.c.SetReadDeadline(deadline)
			for {
				f, err := h.fr.ReadFrame()
				if err != nil {
					return
				}
				if hf, ok := f.(*http2.HeadersFrame); ok {
					fields, _ := dec.DecodeFull(hf.HeaderBlockFragment())
					for _, fl := range fields {
						if fl.Name == ":status" && fl.Value == "503" {
							busy.Add(1)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if want := int64(18*128 - 2048); busy.Load() < want {
		t.Errorf("%d streams answered 503, want at least %d", busy.Load(), want)
	}
}
