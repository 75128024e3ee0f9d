package httpd

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// recordConn is the socket under a TLS connection served by the loop. It
// hands crypto/tls at most one TLS record per Read, so crypto/tls never
// holds a whole record the loop does not know of: what is not in the
// kernel is either in this connection's buffer (which the loop can see)
// or a partial record crypto/tls waits to complete. Reads and writes
// block during the handshake, which runs on a goroutine of its own; once
// the connection is in the loop, reads never wait (they report
// errWouldBlock) and writes wait only after the worker left the pool.
type recordConn struct {
	net.Conn
	raw syscall.RawConn
	out *rawWriter
	fd  int

	// loop: served by the loop, reads never wait; wk is the worker
	// writing now, for detach. crypto/tls reads and writes from different
	// goroutines at once (HTTP/2, the handshake), hence atomics.
	loop atomic.Bool
	wk   atomic.Pointer[worker]
	// The read side, used by one reader at a time (crypto/tls serializes
	// its reads): bytes read from the socket and not yet handed over, the
	// bytes of the current record still to hand over, and whether the
	// last read took all the socket had.
	buf     []byte
	remain  int
	drained bool
}

// errWouldBlock is a read that would wait; crypto/tls passes it up and
// keeps the partial record for the next Read.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

const recordHeader = 5

// Read implements net.Conn for crypto/tls: at most up to the end of the
// current record.
func (r *recordConn) Read(p []byte) (int, error) {
	if r.remain == 0 {
		// At a record's start: its header says how long it is.
		for len(r.buf) < recordHeader {
			if err := r.fill(); err != nil {
				return 0, err
			}
		}
		r.remain = recordHeader + (int(r.buf[3])<<8 | int(r.buf[4]))
	}
	if len(r.buf) == 0 {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p[:min(len(p), r.remain)], r.buf)
	r.buf, r.remain = r.buf[n:], r.remain-n
	if len(r.buf) == 0 {
		r.buf = nil
	}
	return n, nil
}

// maxRecord is the largest TLS record with its header and overhead.
const maxRecord = recordHeader + 16384 + 2048

var recordBufs = sync.Pool{New: func() any { b := make([]byte, maxRecord); return &b }}

// fill appends what the socket has to buf: a blocking read during the
// handshake, one read without waiting in the loop.
func (r *recordConn) fill() error {
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	b := *bp
	var n int
	var err error
	if !r.loop.Load() {
		n, err = r.Conn.Read(b)
	} else {
		n, err = readNonblock(r.fd, b)
		switch {
		case err == unix.EAGAIN:
			r.drained = true
			return errWouldBlock
		case err == nil && n == 0:
			err = errClosedByPeer
		}
		r.drained = err == nil && n < len(b)
	}
	r.buf = append(r.buf, b[:n]...)
	if n > 0 {
		return nil
	}
	return err
}

// Write implements net.Conn for crypto/tls.
func (r *recordConn) Write(p []byte) (int, error) {
	if !r.loop.Load() {
		return r.Conn.Write(p)
	}
	if err := r.out.writeOne(p, r.wk.Load()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// idleSafe reports that nothing is buffered between the socket and
// crypto/tls and the last read took all the socket had: the next bytes
// will be an edge the loop sees.
func (r *recordConn) idleSafe() bool { return len(r.buf) == 0 && r.drained }

// handshake runs the TLS handshake on a goroutine of the connection's
// own, within the header timeout; then an HTTP/2 connection goes to the
// HTTP/2 server, an HTTP/1.1 one into the loop.
func (s *Server) handshake(nc net.Conn, lp *loop) {
	rc := &recordConn{Conn: nc, fd: -1}
	sc, ok := nc.(syscall.Conn)
	if ok {
		rc.raw, _ = sc.SyscallConn()
	}
	if rc.raw != nil {
		rc.out = newRawWriter(rc.raw, nc, s.SendTimeout)
		rc.raw.Control(func(fd uintptr) { rc.fd = int(fd) })
	}
	if rc.fd < 0 {
		nc.Close()
		return
	}
	tc := tls.Server(rc, s.TLSConfig)
	timeout := s.ReadHeaderTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	nc.SetDeadline(time.Now().Add(timeout))
	err := tc.HandshakeContext(ctx)
	cancel()
	nc.SetDeadline(time.Time{})
	if err != nil {
		s.logf("TLS handshake from %s: %v", nc.RemoteAddr(), err)
		nc.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" && s.HTTP2 != nil {
		if !s.HTTP2.give(tc) {
			nc.Close()
		}
		return
	}
	// The client may have sent its request in the same flight as the end
	// of the handshake: then it is read already, and no edge will tell
	// the set. (Looked at before the loop may touch the buffer.)
	readAhead := len(rc.buf) > 0
	rc.loop.Store(true)
	c := &conn{s: s, lp: lp, nc: nc, raw: rc.raw, fd: rc.fd, remote: nc.RemoteAddr().String(), tls: tc, rec: rc}
	state := tc.ConnectionState()
	c.tlsState = &state
	if s.closing.Load() || !lp.add(c) {
		nc.Close()
		return
	}
	if readAhead {
		lp.kick(c)
	}
}

// HTTP2 hands the connections that chose HTTP/2 to a net/http server, as
// a listener it accepts from.
type HTTP2 struct {
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	addr   net.Addr
	closed bool
}

// NewHTTP2 makes the listener; serve it with an http.Server whose
// TLSConfig offers h2.
func NewHTTP2(addr net.Addr) *HTTP2 {
	return &HTTP2{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

func (h *HTTP2) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.done:
		return false
	}
}

// Accept implements net.Listener.
func (h *HTTP2) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (h *HTTP2) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

// Addr implements net.Listener.
func (h *HTTP2) Addr() net.Addr { return h.addr }
