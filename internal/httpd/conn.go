package httpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
	scan    headScan // of the head at pending's start
	tlsOver []byte   // plaintext of a record read that did not fit yet

	requests  int  // served on this connection
	lingering bool // the response was the last: input is read and dropped
	// lingerEnd is when a lingering connection is closed at the latest
	// (unix nanoseconds); the reaper reads it.
	lingerEnd atomic.Int64

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
	c := &conn{s: s, nc: nc, raw: raw, out: newRawWriter(raw, nc, s.SendTimeout), fd: -1, remote: nc.RemoteAddr().String()}
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

// A connection's fair share of a worker: it is served turnRequests
// requests, then goes to the back of the queue if it has more, so a few
// clients pipelining without pause cannot keep every worker to
// themselves. After Server.MaxConnRequests (default defaultConnRequests)
// a connection is closed, as nginx's keepalive_requests does, so no
// client holds one forever.
const (
	turnRequests        = 16
	defaultConnRequests = 1000
)

// serveReady serves the requests the connection has ready, then hands it
// back to the set or closes it.
func (c *conn) serveReady(w *worker) {
	defer func() {
		if p := recover(); p != nil {
			c.s.logPanic(c.remote, p)
			c.lp.remove(c)
		}
	}()
	if c.lingering {
		c.discard(w)
		return
	}
	served := 0
	for {
		req, err := c.nextRequest(w)
		switch {
		case err == errWait:
			if c.lp.idle(c) {
				continue
			}
			return
		case err != nil:
			if c.fail(err, w) {
				c.linger(w)
			} else {
				c.lp.remove(c)
			}
			return
		}
		if keep, lingerAfter := c.serveRequest(req, w); !keep || c.s.closing.Load() && len(c.pending) == 0 {
			if lingerAfter || len(c.pending) > 0 || !c.drained {
				c.linger(w)
			} else {
				c.lp.remove(c)
			}
			return
		}
		if served++; served >= turnRequests && (len(c.pending) > 0 || !c.drained) {
			if c.lp.requeue(c) {
				return
			}
			served = 0 // the queue is full: every worker is busy anyway
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

// fail answers a request that cannot be served and reports whether it did
// (then the connection lingers); read errors just close.
func (c *conn) fail(err error, w *worker) bool {
	status := 0
	switch {
	case errors.Is(err, errHeadTooLarge):
		status = http.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, errURITooLong):
		status = http.StatusRequestURITooLong
	case errors.Is(err, errBadRequest):
		status = http.StatusBadRequest
	default:
		return false
	}
	return c.writeAll([][]byte{plainResponse(status)}, false, w) == nil
}

// plainResponse is a complete response that closes the connection.
func plainResponse(status int) []byte {
	body := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return fmt.Appendf(nil, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		body, len(body), body)
}

// nextRequest returns the next complete request: one already read (a
// pipelined request), or one read now from what the socket has, without
// waiting; errWait when the head is not all there yet (what came is kept
// in pending).
func (c *conn) nextRequest(w *worker) (*http.Request, error) {
	if len(c.pending) > 0 {
		end, err := c.scan.scan(c.pending)
		if err != nil {
			return nil, err
		}
		if end >= 0 {
			// Parsed where it lies: pipelined requests are not copied
			// again for each one taken off the front.
			head := c.pending[c.scan.lead:end]
			host, hosts := c.scan.host(c.pending)
			c.pending = c.pending[end:]
			if len(c.pending) == 0 {
				c.pending = nil
			}
			c.scan = headScan{}
			c.headStart.Store(0)
			return parseHead(head, host, hosts)
		}
	}
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
	for {
		if n == len(buf) {
			if n >= limit {
				return nil, errHeadTooLarge
			}
			// A long head: move to a buffer of the full size.
			big := make([]byte, limit)
			copy(big, buf[:n])
			buf = big
		}
		m, err := c.read(buf[n:], w)
		switch {
		case err == unix.EAGAIN:
			if n > 0 {
				c.pending = append([]byte(nil), buf[:n]...)
				if c.headStart.Load() == 0 {
					// A head has begun, if only with blank lines: it must
					// be complete within the header timeout of its first
					// byte.
					c.headStart.Store(time.Now().UnixNano())
				}
			}
			return nil, errWait
		case err != nil:
			return nil, err
		case m == 0:
			if c.scan.started {
				// The client ended in the middle of a head: it may still
				// read, and net/http answers it 400 too.
				return nil, errBadRequest
			}
			return nil, errClosedByPeer
		}
		n += m
		end, err := c.scan.scan(buf[:n])
		if err != nil {
			return nil, err
		}
		if end >= 0 {
			c.headStart.Store(0)
			head := buf[c.scan.lead:end]
			host, hosts := c.scan.host(buf)
			if rest := buf[end:n]; len(rest) > 0 {
				c.pending = append([]byte(nil), rest...) // pipelined requests
			}
			c.scan = headScan{}
			return parseHead(head, host, hosts)
		}
	}
}

// read reads what is there without waiting: from the socket, or for
// HTTPS the next record's plaintext (through a scratch buffer big enough
// for a whole record, so crypto/tls keeps none of it back; what does not
// fit in p waits in tlsOver for the next read).
func (c *conn) read(p []byte, w *worker) (int, error) {
	if c.tls == nil {
		m, err := readNonblock(c.fd, p)
		c.drained = err == nil && m > 0 && m < len(p)
		return m, err
	}
	if len(c.tlsOver) > 0 {
		m := copy(p, c.tlsOver)
		c.tlsOver = c.tlsOver[m:]
		if len(c.tlsOver) == 0 {
			c.tlsOver = nil
		}
		c.drained = c.tlsOver == nil && c.rec.idleSafe()
		return m, nil
	}
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	// crypto/tls answers a KeyUpdate inside Read: if that write finds the
	// socket full, the worker leaves the pool before it waits.
	c.rec.wk.Store(w)
	m, err := c.tls.Read(*bp)
	c.rec.wk.Store(nil)
	switch {
	case m > 0:
		k := copy(p, (*bp)[:m])
		if k < m {
			c.tlsOver = append([]byte(nil), (*bp)[k:m]...)
		}
		c.drained = c.tlsOver == nil && c.rec.idleSafe()
		return k, nil
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
			return max(n, 0), err
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
