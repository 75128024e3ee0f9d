package httpd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Connection states; only the owner of a state changes it, with a
// compare-and-swap where two could race (a worker picking a connection
// up, the reaper closing it).
const (
	stateArmed  = iota // in the epoll set, waiting for bytes
	stateBusy          // a worker is serving it
	stateDirty         // being served, and more bytes came meanwhile
	stateClosed        // closed, or about to be
)

// claim takes a connection whose socket became readable: it returns true
// if the caller is now its worker; a connection being served is marked
// dirty so its worker looks again.
func (c *conn) claim() bool {
	for {
		switch st := c.state.Load(); st {
		case stateArmed:
			if c.state.CompareAndSwap(stateArmed, stateBusy) {
				return true
			}
		case stateBusy:
			if c.state.CompareAndSwap(stateBusy, stateDirty) {
				return false
			}
		default:
			return false
		}
	}
}

// conn is one client connection.
type conn struct {
	s      *Server
	lp     *loop
	nc     net.Conn
	raw    syscall.RawConn
	out    *rawWriter // raw's writes (plain HTTP)
	fd     int
	id     uint64
	remote string

	state atomic.Int32
	// since is when it was last armed, headStart when the first bytes of
	// a head still arriving came (0: none); the reaper reads both.
	since, headStart atomic.Int64
	// pending is input read but not used yet: a pipelined request, or a
	// head still arriving. hup says the peer shut its side; drained that
	// the last read took all the socket had. Only the connection's worker
	// uses these.
	pending []byte
	hup     bool
	drained bool

	// tls is set for an HTTPS connection; rec is the socket under it.
	tls      *tls.Conn
	rec      *recordConn
	tlsState *tls.ConnectionState // shared by the requests, read only
}

// errNotSocket: the server serves sockets only (it waits on their
// descriptors itself).
var errNotSocket = errors.New("httpd: not a socket connection")

func newConn(s *Server, nc net.Conn) (*conn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errNotSocket
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &conn{s: s, nc: nc, raw: raw, out: newRawWriter(raw), fd: -1, remote: nc.RemoteAddr().String()}
	raw.Control(func(fd uintptr) { c.fd = int(fd) })
	if c.fd < 0 {
		return nil, errNotSocket
	}
	return c, nil
}

// bufPool holds the buffers requests are read into and responses are
// gathered in: held only while a request is being read or answered.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// bufSize fits nearly every request head; a longer one moves to a buffer
// of the full MaxHeaderBytes.
const bufSize = 4 << 10

// serveReady serves the requests the connection has ready, then hands it
// back to the set or closes it.
func (c *conn) serveReady(w *worker) {
	defer func() {
		if p := recover(); p != nil {
			c.s.logf("panic serving %s: %v\n%s", c.remote, p, debug.Stack())
			c.lp.remove(c)
		}
	}()
	for {
		req, err := c.nextRequest()
		switch {
		case err == errWait:
			if c.lp.idle(c) {
				continue
			}
			return
		case err != nil:
			c.fail(err, w)
			c.lp.remove(c)
			return
		}
		if !c.serveRequest(req, w) || c.s.closing.Load() && len(c.pending) == 0 {
			c.lp.remove(c)
			return
		}
		if len(c.pending) == 0 && c.drained && !c.hup {
			// The client reads this response before it sends the next
			// request: wait for it in the set rather than try a read now.
			// The socket was empty at the last read, so its arrival is an
			// edge the set reports.
			if c.lp.idle(c) {
				continue
			}
			return
		}
	}
}

// Outcomes of reading a request other than a request.
var (
	errWait         = errors.New("no complete request yet")
	errHeadTooLarge = errors.New("request head too large")
	errBadRequest   = errors.New("malformed request")
	errClosedByPeer = errors.New("closed by the client")
)

// fail answers a request that cannot be served; read errors just close.
func (c *conn) fail(err error, w *worker) {
	switch {
	case errors.Is(err, errHeadTooLarge):
		c.writeAll([][]byte{plainResponse(http.StatusRequestHeaderFieldsTooLarge)}, false, w)
	case errors.Is(err, errBadRequest):
		c.writeAll([][]byte{plainResponse(http.StatusBadRequest)}, false, w)
	}
}

// plainResponse is a complete response that closes the connection.
func plainResponse(status int) []byte {
	body := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return fmt.Appendf(nil, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		body, len(body), body)
}

// nextRequest reads what the socket has, without waiting, and returns the
// next complete request; errWait when the head is not all there yet (what
// came is kept in pending).
func (c *conn) nextRequest() (*http.Request, error) {
	limit := c.s.maxHeader()
	pool := &bufPool
	if c.tls != nil {
		pool = &recordBufs // a record's plaintext comes whole
	}
	bp := pool.Get().(*[]byte)
	defer pool.Put(bp)
	buf := (*bp)[:min(len(*bp), limit)]
	if len(c.pending) > len(buf) {
		buf = make([]byte, limit)
	}
	n := copy(buf, c.pending)
	c.pending = nil
	searched := 0
	for {
		if end := headEnd(buf[:n], searched); end >= 0 {
			c.headStart.Store(0)
			req, err := parseHead(buf[:end])
			if rest := buf[end:n]; len(rest) > 0 {
				c.pending = append([]byte(nil), rest...) // a pipelined request
			}
			if err != nil {
				return nil, errBadRequest
			}
			return req, nil
		}
		searched = max(0, n-3)
		if n == len(buf) {
			if n >= limit {
				return nil, errHeadTooLarge
			}
			// A long head: move to a buffer of the full size.
			big := make([]byte, limit)
			copy(big, buf[:n])
			buf = big
		}
		m, err := c.read(buf[n:])
		switch {
		case err == unix.EAGAIN:
			if n > 0 {
				c.pending = append([]byte(nil), buf[:n]...)
				if c.headStart.Load() == 0 && len(bytes.TrimLeft(buf[:n], "\r\n")) > 0 {
					// A head has begun: it must be complete within the
					// header timeout.
					c.headStart.Store(time.Now().UnixNano())
				}
			}
			return nil, errWait
		case err != nil:
			return nil, err
		case m == 0:
			return nil, errClosedByPeer
		}
		n += m
	}
}

// read reads what is there without waiting: from the socket, or for
// HTTPS the next record's plaintext (through a scratch buffer big enough
// for a whole record, so crypto/tls keeps none of it back).
func (c *conn) read(p []byte) (int, error) {
	if c.tls == nil {
		m, err := readNonblock(c.fd, p)
		c.drained = err == nil && m > 0 && m < len(p)
		return m, err
	}
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	m, err := c.tls.Read(*bp)
	switch {
	case m > len(p):
		return 0, errHeadTooLarge
	case m > 0:
		copy(p, (*bp)[:m])
		c.drained = c.rec.idleSafe()
		return m, nil
	case errors.Is(err, errWouldBlock):
		return 0, unix.EAGAIN
	case err == nil || errors.Is(err, io.EOF):
		return 0, nil
	}
	return 0, err
}

func readNonblock(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// writeAll writes bufs, with MSG_MORE when more data follows at once (a
// file by sendfile). If the socket is full it leaves the worker pool and
// waits in the runtime's poller. Over HTTPS the bytes go through
// crypto/tls in one piece, so a small response is one record.
func (c *conn) writeAll(bufs [][]byte, more bool, w *worker) error {
	if c.tls == nil {
		return c.out.write(bufs, more, w)
	}
	c.rec.wk.Store(w)
	defer c.rec.wk.Store(nil)
	if len(bufs) == 1 {
		_, err := c.tls.Write(bufs[0])
		return err
	}
	// Gather the pieces into the first record's worth; a large last
	// piece (a file's body) then goes as it is, without a copy.
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	joined := (*bp)[:0]
	var rest []byte
	for i, b := range bufs {
		room := tlsRecord - len(joined)
		if len(b) > room && i == len(bufs)-1 {
			joined, rest = append(joined, b[:room]...), b[room:]
			break
		}
		joined = append(joined, b...)
	}
	if _, err := c.tls.Write(joined); err != nil || len(rest) == 0 {
		return err
	}
	_, err := c.tls.Write(rest)
	return err
}

// tlsRecord is the most plaintext a TLS record carries.
const tlsRecord = 16384

// headEnd returns the index just past the blank line ending a request
// head in b (CRLF CRLF, or bare LFs, which net/http also accepts), or -1.
// Searching starts at from, so a head read in pieces is scanned once.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		j := i + 1
		if j < len(b) && b[j] == '\r' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			// Blank lines before the request line are allowed (RFC 9112
			// 2.2): they do not end a head.
			if len(bytes.TrimLeft(b[:i+1], "\r\n")) == 0 {
				continue
			}
			return j + 1
		}
	}
	return -1
}

// readers parse heads without allocating a bufio.Reader per request.
var readers = sync.Pool{New: func() any { return &headReader{br: bufio.NewReaderSize(nil, 4096)} }}

type headReader struct {
	rd bytes.Reader
	br *bufio.Reader
}

// parseHead parses a complete request head with net/http's own parser.
func parseHead(head []byte) (*http.Request, error) {
	hr := readers.Get().(*headReader)
	defer readers.Put(hr)
	hr.rd.Reset(bytes.TrimLeft(head, "\r\n"))
	hr.br.Reset(&hr.rd)
	req, err := http.ReadRequest(hr.br)
	hr.br.Reset(nil)
	hr.rd.Reset(nil)
	return req, err
}
