package httpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// start serves h on 127.0.0.1:0 and returns the address.
func start(t testing.TB, h http.Handler, tune func(*Server)) (string, *Server) {
	t.Helper()
	s := &Server{Handler: h, ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second}
	if tune != nil {
		tune(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return l.Addr().String(), s
}

// exchange sends raw bytes and reads until the server closes or the
// deadline; it returns what came back.
func exchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

func hello(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/sized":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	case "/unsized":
		io.WriteString(w, "<html>hi</html>")
	case "/big":
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(w, "line %d\n", i)
		}
	case "/notmod":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "5")
		w.Header().Set("Etag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
	case "/inject":
		w.Header().Set("X-Bad", "a\r\nSet-Cookie: evil=1")
		w.Header()["Bad Name"] = []string{"x"}
		io.WriteString(w, "ok")
	case "/short":
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	case "/panic":
		panic("handler bug")
	default:
		http.NotFound(w, r)
	}
}

// TestAgainstNetHTTPClient: the standard client reads every kind of
// response, over one kept-alive connection.
func TestAgainstNetHTTPClient(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(hello), nil)
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	big := new(strings.Builder)
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(big, "line %d\n", i)
	}
	for _, tc := range []struct {
		path, body, ctype string
		status            int
		clen              int64
		chunked           bool
	}{
		{"/sized", "hello", "text/plain", 200, 5, false},
		{"/unsized", "<html>hi</html>", "text/html; charset=utf-8", 200, 15, false},
		{"/big", big.String(), "text/plain", 200, -1, true},
		{"/nothing", "404 page not found\n", "text/plain; charset=utf-8", 404, 19, false},
	} {
		resp, err := client.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.body || resp.Header.Get("Content-Type") != tc.ctype ||
			resp.ContentLength != tc.clen || (len(resp.TransferEncoding) > 0) != tc.chunked || resp.Header.Get("Date") == "" {
			t.Errorf("%s: %d %q %q len %d te %v", tc.path, resp.StatusCode, b[:min(len(b), 40)], resp.Header.Get("Content-Type"),
				resp.ContentLength, resp.TransferEncoding)
		}
	}
	// HEAD says what GET would, without the body.
	resp, err := client.Head("http://" + addr + "/unsized")
	if err != nil || resp.ContentLength != 15 || resp.StatusCode != 200 {
		t.Errorf("HEAD: %v %+v", err, resp)
	}
}

func TestRawExchanges(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(hello), func(s *Server) { s.MaxHeaderBytes = 1024 })
	for _, tc := range []struct {
		name, req string
		want      []string // in order
		not       []string
	}{
		{"pipelined", "GET /sized HTTP/1.1\r\nHost: x\r\n\r\nGET /unsized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "hello", "HTTP/1.1 200 OK", "Connection: close", "<html>hi</html>"}, nil},
		{"HTTP/1.0 closes", "GET /big HTTP/1.0\r\n\r\n", []string{"HTTP/1.1 200 OK", "Connection: close", "line 4999\n"}, []string{"chunked"}},
		{"HTTP/1.0 keep-alive", "GET /sized HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /sized HTTP/1.0\r\n\r\n",
			[]string{"Connection: keep-alive", "hello", "Connection: close", "hello"}, nil},
		{"304 has no body fields", "GET /notmod HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 304 Not Modified", "Etag: \"x\""}, []string{"Content-Length", "Content-Type"}},
		{"missing Host", "GET /sized HTTP/1.1\r\n\r\n", []string{"HTTP/1.1 400 Bad Request", "Connection: close"}, []string{"hello"}},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\r\n\r\n", []string{"HTTP/1.1 400 Bad Request"}, nil},
		{"head too large", "GET /sized HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n",
			[]string{"HTTP/1.1 431 Request Header Fields Too Large"}, nil},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", []string{"HTTP/1.1 505 HTTP Version Not Supported"}, nil},
		{"body closes", "POST /sized HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nGET /unsized HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "Connection: close", "hello"}, []string{"<html>"}},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []string{"HTTP/1.1 200 OK", "Content-Length: 0"}, nil},
		{"leading blank lines", "\r\n\r\nGET /sized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []string{"200 OK", "hello"}, nil},
		{"bare LF", "GET /sized HTTP/1.1\nHost: x\nConnection: close\n\n", []string{"200 OK", "hello"}, nil},
		{"header injection", "GET /inject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"X-Bad: a  Set-Cookie: evil=1\r\n", "ok"}, []string{"\r\nSet-Cookie", "Bad Name"}},
		{"control byte in a value", "GET /sized HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", []string{"400 Bad Request"}, nil},
		{"short body closes", "GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET /sized HTTP/1.1\r\nHost: x\r\n\r\n",
			[]string{"Content-Length: 10", "abc"}, []string{"hello"}},
		{"panic closes", "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", nil, []string{"HTTP/1.1"}},
		{"Expect", "GET /sized HTTP/1.1\r\nHost: x\r\nExpect: telepathy\r\n\r\n", []string{"417 Expectation Failed"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, addr, tc.req)
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("response lacks %q (in order):\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("response has %q:\n%s", n, got)
				}
			}
		})
	}
}

// TestSendfileBody: a file handed over by io.CopyN arrives whole after a
// head sent with MSG_MORE, and the connection serves the next request.
func TestSendfileBody(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blob")
	blob := make([]byte, 3<<20)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	os.WriteFile(p, blob, 0o644)
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _ := os.Open(p)
		defer f.Close()
		w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		w.WriteHeader(200)
		if r.Method == http.MethodGet {
			io.CopyN(w, f, int64(len(blob)))
		}
	}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		method := []string{"GET", "HEAD", "GET"}[i]
		fmt.Fprintf(c, "%s /blob HTTP/1.1\r\nHost: x\r\n\r\n", method)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		want := blob
		if method == "HEAD" {
			want = nil
		}
		if resp.ContentLength != int64(len(blob)) || string(b) != string(want) {
			t.Fatalf("%s %d: got %d bytes, length %d", method, i, len(b), resp.ContentLength)
		}
	}
}

// TestTimeouts: a silent keep-alive client is dropped after the idle
// timeout, a head that never completes after the header timeout.
func TestTimeouts(t *testing.T) {
	addr, _ := start(t, http.HandlerFunc(hello), func(s *Server) {
		s.IdleTimeout, s.ReadHeaderTimeout = 200*time.Millisecond, 200*time.Millisecond
	})
	for _, raw := range []string{"", "GET /sized HTTP/1.1\r\nHost: x\r\n"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, raw)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c) // returns when the server closes
		c.Close()
		if err != nil || len(b) != 0 {
			t.Errorf("%q: read %q, %v; want the server to close", raw, b, err)
		}
	}
}

// TestShutdownDrains: idle connections close at once, a response in
// progress finishes (and says the connection closes), new ones are refused.
func TestShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	addr, s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	}), nil)
	idle, _ := net.Dial("tcp", addr)
	defer idle.Close()
	busy, _ := net.Dial("tcp", addr)
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	idle.SetReadDeadline(time.Now().Add(3 * time.Second))
	if b, err := io.ReadAll(idle); err != nil || len(b) != 0 {
		t.Errorf("idle connection: %q %v; want closed", b, err)
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(busy)
	if !strings.Contains(string(b), "Connection: close") || !strings.HasSuffix(string(b), "done") {
		t.Errorf("busy connection got %q", b)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
}

// FuzzRequest: any bytes a client sends get an HTTP/1.1 response or a
// closed connection, never a panic or a hang.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		"GET /sized HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /sized HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\n\n", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"\r\n\r\n\r\n", "GET http://a/b HTTP/1.1\r\n\r\n",
	} {
		f.Add(seed)
	}
	addr, _ := start(f, http.HandlerFunc(hello), func(s *Server) { s.MaxHeaderBytes = 4096 })
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, raw)
		c.(*net.TCPConn).CloseWrite()
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("no answer and no close: %v", err)
		}
		if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 ") {
			t.Fatalf("response %q", b[:min(len(b), 80)])
		}
	})
}

// startTLS serves h over HTTPS on 127.0.0.1:0, HTTP/2 through a net/http
// server as the node does.
func startTLS(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startTLSOn(t, l, h)
}

// startTLSOn is startTLS on a listener of the caller's.
func startTLSOn(t *testing.T, l net.Listener, h http.Handler) string {
	t.Helper()
	cert, err := tls.X509KeyPair(testCert, testKey)
	if err != nil {
		t.Fatal(err)
	}
	h2l := NewHTTP2(l.Addr())
	h2 := &http.Server{Handler: h}
	s := &Server{Handler: h, ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, HTTP2: h2l}
	go h2.Serve(h2l)
	go s.Serve(l)
	t.Cleanup(func() { s.Close(); h2.Close() })
	return l.Addr().String()
}

func TestHTTPS(t *testing.T) {
	addr := startTLS(t, http.HandlerFunc(hello))
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: h2, MaxConnsPerHost: 1}
		client := &http.Client{Transport: tr}
		for _, path := range []string{"/sized", "/big", "/sized", "/unsized"} {
			resp, err := client.Get("https://" + addr + path)
			if err != nil {
				t.Fatalf("h2 %v %s: %v", h2, path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[h2]
			if resp.StatusCode != 200 || resp.Proto != want || len(b) == 0 || resp.TLS == nil {
				t.Errorf("h2 %v %s: %d %s %d bytes", h2, path, resp.StatusCode, resp.Proto, len(b))
			}
		}
		tr.CloseIdleConnections()
	}
	// Pipelined over TLS: two requests in one record, two responses.
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "GET /sized HTTP/1.1\r\nHost: x\r\n\r\nGET /unsized HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(c)
	if got := string(b); strings.Count(got, "HTTP/1.1 200 OK") != 2 || !strings.Contains(got, "hello") || !strings.HasSuffix(got, "<html>hi</html>") {
		t.Errorf("pipelined over TLS:\n%s", got)
	}
}

// TestSlowClientsDoNotStarve: clients that stop reading large responses
// hold workers no longer than it takes to notice, so a small request on
// another connection is still answered, over HTTP and HTTPS.
func TestSlowClientsDoNotStarve(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 8<<20)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big)
			return
		}
		io.WriteString(w, "small")
	})
	plain, _ := start(t, h, nil)
	for name, dial := range map[string]func() (net.Conn, error){
		"http": func() (net.Conn, error) { return net.Dial("tcp", plain) },
		"https": func() (net.Conn, error) {
			return tls.Dial("tcp", startTLS(t, h), &tls.Config{InsecureSkipVerify: true})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var stalled []net.Conn
			for i := 0; i < 4*runtime.GOMAXPROCS(0)+4; i++ { // more than the pool
				c, err := dial()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
				stalled = append(stalled, c)
			}
			c, err := dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			b, err := io.ReadAll(c)
			if err != nil || !strings.HasSuffix(string(b), "small") {
				t.Errorf("small request behind %d stalled clients: %q %v", len(stalled), b, err)
			}
		})
	}
}

// TestAllocationsPerRequest keeps the per-request garbage down: what is
// left is net/http's request parsing (the Request, its URL, the header
// map and its strings: 7 here) and, for a file, the descriptor's
// RawConn; the loop, the response and the write and sendfile paths
// allocate nothing of their own. (Before they were made so: 20 and 24.)
// One spare allocation in each bound is room for a Go release to move.
func TestAllocationsPerRequest(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account (make test runs this without it)")
	}
	p := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(p, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	small := make([]byte, 1024)
	// The handler's own values are made once, as a file cache's are.
	typ, smallLen, fileLen := []string{"application/octet-stream"}, []string{"1024"}, []string{"65536"}
	section := io.NewSectionReader(f, 0, 64<<10)
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = typ
		if r.URL.Path == "/file" {
			h["Content-Length"] = fileLen
			section.Seek(0, io.SeekStart)
			io.Copy(w, section) // by sendfile
			return
		}
		h["Content-Length"] = smallLen
		w.Write(small)
	}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		path string
		max  float64
	}{{"/small", 8}, {"/file", 9}} {
		req := []byte("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nUser-Agent: test/1\r\n\r\n")
		// The response's length, from the first exchange.
		c.Write(req)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		var head bytes.Buffer
		resp.Header.Del("Date")
		resp.Header.Write(&head)
		buf := make([]byte, 128<<10)
		exchange := func() {
			c.Write(req)
			// Status line and fields (Date has a fixed length), blank line, body.
			want := len("HTTP/1.1 200 OK\r\n") + head.Len() + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n") + 2 + len(body)
			if _, err := io.ReadFull(c, buf[:want]); err != nil {
				t.Fatal(err)
			}
		}
		got := testing.AllocsPerRun(300, exchange)
		t.Logf("%s: %.1f allocations per request", tc.path, got)
		if got > tc.max {
			t.Errorf("%s: %.1f allocations per request, want at most %.0f", tc.path, got, tc.max)
		}
	}
}

// TestSignalsDoNotStallSendfile: with signals landing on the thread in
// sendfile(2) (from an offset, as the file server sends), the call comes
// back short with room left in the socket. The socket is edge-triggered,
// so a writer that took the short write for a full socket waited for an
// edge that never came: every download stalled within its first 5 MB
// (found with signals aimed at every thread of a node on one core). As
// there, the server here has one processor, and the signals (from a
// child process) and curl run on another.
func TestSignalsDoNotStallSendfile(t *testing.T) {
	if pid := os.Getenv("HTTPD_TEST_SIGNAL_PID"); pid != "" {
		signalThreads(pid) // the child: runs until killed
		return
	}
	var all, server, others unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skip("needs two processors")
	}
	for cpu := range 1024 {
		if all.IsSet(cpu) {
			if server.Count() == 0 {
				server.Set(cpu)
			} else {
				others.Set(cpu)
			}
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	setAffinity := func(set *unix.CPUSet) {
		for _, tid := range threads("self") {
			unix.SchedSetaffinity(tid, set)
		}
	}
	setAffinity(&server)
	defer setAffinity(&all)

	// Real pages (a sparse file's holes are sent another way).
	const size = 256 << 20
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, bytes.Repeat([]byte("micromirror\n"), size/12+1)[:size], 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(p)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, io.NewSectionReader(f, 0, size)) // as the file server sends
	}), nil)

	signaller := exec.Command(os.Args[0], "-test.run=^TestSignalsDoNotStallSendfile$")
	signaller.Env = append(os.Environ(), "HTTPD_TEST_SIGNAL_PID="+strconv.Itoa(os.Getpid()))
	if err := signaller.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { signaller.Process.Kill(); signaller.Wait() }()
	unix.SchedSetaffinity(signaller.Process.Pid, &others)

	for i := range 3 {
		// A healthy transfer takes about a second here; a stalled one
		// ends at curl's time limit.
		var out bytes.Buffer
		curl := exec.Command("curl", "-s", "-m", "20", "-o", "/dev/null", "-w", "%{size_download}", "http://"+addr+"/big")
		curl.Stdout = &out
		if err := curl.Start(); err != nil {
			t.Fatal(err)
		}
		unix.SchedSetaffinity(curl.Process.Pid, &others)
		err := curl.Wait()
		if got := strings.TrimSpace(out.String()); got != strconv.Itoa(size) {
			t.Fatalf("download %d: %s of %d bytes (%v)", i, got, size, err)
		}
	}
}

// signalThreads sends SIGURG to every thread of a process, about every
// millisecond. SIGURG is the Go runtime's own preemption signal; one it
// did not send is ignored, so any thread may get it.
func signalThreads(pidText string) {
	pid, _ := strconv.Atoi(pidText)
	for {
		tids := threads(pidText)
		if len(tids) == 0 {
			return // the process is gone
		}
		for _, tid := range tids {
			unix.Tgkill(pid, tid, unix.SIGURG)
		}
		time.Sleep(time.Millisecond)
	}
}

// threads lists a process's thread IDs ("self": this process).
func threads(pid string) []int {
	tasks, _ := os.ReadDir("/proc/" + pid + "/task")
	var tids []int
	for _, task := range tasks {
		if tid, err := strconv.Atoi(task.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}
