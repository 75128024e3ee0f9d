package httpd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// verdict is how a server framed a request: whether it reached the
// handler, the body length the handler was told of, and whether the
// connection stays open after the response.
type verdict struct {
	answered bool   // a response came at all
	accepted bool   // the handler ran
	length   string // Content-Length and Transfer-Encoding as the handler saw them
	keep     bool
}

func (v verdict) String() string {
	return fmt.Sprintf("answered=%v accepted=%v length=%q keep=%v", v.answered, v.accepted, v.length, v.keep)
}

// framingHandler tells the client how its request was framed.
func framingHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Framing", fmt.Sprintf("%d %q", r.ContentLength, r.TransferEncoding))
	io.WriteString(w, "ok")
}

// frame sends raw to a server, shuts the sending side, and reads how the
// first request was framed.
func frame(t *testing.T, addr string, raw []byte) verdict {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	c.Write(raw)
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		return verdict{}
	}
	v := verdict{answered: true, keep: !resp.Close}
	if f := resp.Header.Get("X-Framing"); f != "" {
		v.accepted, v.length = true, f
	}
	return v
}

// FuzzFramingMatchesNetHTTP: for any request head, the server frames the
// first request as net/http's server does: accepted or refused, with the
// same body length, kept alive or not. Where the two differ by design the
// comparison says so: this server refuses lines past its limits (nginx's),
// skips up to four bytes of blank lines before any request (net/http only
// after a POST), refuses folded lines (net/http joins them), and closes
// after a request with a body rather than read it, so keep-alive is
// compared for requests without one.
func FuzzFramingMatchesNetHTTP(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding :chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET http://a/b HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nExpect: x\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	// Timeouts far beyond an exchange: a machine busy with other work
	// must not turn a verdict into a timeout on one side only.
	ours, _ := start(f, http.HandlerFunc(framingHandler), func(s *Server) {
		s.MaxHeaderBytes, s.ReadHeaderTimeout, s.IdleTimeout = 16<<10, time.Minute, time.Minute
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	ref := &http.Server{Handler: http.HandlerFunc(framingHandler), MaxHeaderBytes: 16 << 10, ReadHeaderTimeout: time.Minute}
	go ref.Serve(l)
	f.Cleanup(func() { ref.Close() })
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 4096 {
			return // past the line limits this server refuses what net/http takes
		}
		theirs := raw
		if n := len(raw) - len(bytes.TrimLeft(raw, "\r\n")); n > 0 && n <= maxLeadingCRLF {
			theirs = raw[n:] // blank lines this server skips, as net/http does after a POST
		}
		got := frame(t, ours, raw)
		if folded(raw) {
			if got.accepted {
				t.Fatalf("%q: a folded line accepted", raw)
			}
			return
		}
		want := frame(t, l.Addr().String(), theirs)
		if got.answered != want.answered || got.accepted != want.accepted || got.length != want.length {
			t.Fatalf("%q:\n ours    %v\n net/http %v", raw, got, want)
		}
		if got.accepted && !strings.HasPrefix(got.length, "0 ") {
			return // a body: this server closes where net/http reads it
		}
		if got.accepted && got.keep != want.keep {
			t.Fatalf("%q: keep-alive:\n ours    %v\n net/http %v", raw, got, want)
		}
	})
}

// folded reports whether the head in raw has a line that starts with
// white space after the request line.
func folded(raw []byte) bool {
	head := raw
	if i := bytes.Index(raw, []byte("\n\r\n")); i >= 0 {
		head = raw[:i]
	}
	if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i]
	}
	return bytes.Contains(head, []byte("\n ")) || bytes.Contains(head, []byte("\n\t"))
}
