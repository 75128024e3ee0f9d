package httpd

import (
	"errors"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rawWriter writes to a socket itself: gathered buffers by sendmsg(2),
// file ranges by sendfile(2). A socket has one write in progress at a
// time (its worker's, or crypto/tls's, which holds its own write lock),
// so the write's state lives here and the functions the runtime calls
// are bound once per connection: a write allocates nothing.
type rawWriter struct {
	raw syscall.RawConn
	// A wait for room in the socket ends with os.ErrDeadlineExceeded once
	// timeout passed without progress (nginx's send_timeout): a client
	// that stops reading holds its connection no longer. The deadline is
	// set only when a write has to wait, so a write that does not costs
	// nothing more.
	nc      deadliner
	timeout time.Duration
	armed   bool // a deadline is set
	moved   bool // bytes went out since it was set

	// The write in progress.
	bufs  [][]byte
	one   [1][]byte // backs bufs for a single buffer
	flags int
	src   int    // sendfile's file descriptor
	off   *int64 // and where in it (nil: the file's own offset)
	n     int64  // bytes still to send
	sent  int64
	wk    *worker
	err   error

	gather, file func(fd uintptr) bool
	holdFile     func(fd uintptr)
}

// deadliner is the part of a net.Conn that bounds a wait.
type deadliner interface{ SetWriteDeadline(time.Time) error }

func newRawWriter(raw syscall.RawConn, nc deadliner, timeout time.Duration) *rawWriter {
	w := &rawWriter{raw: raw, nc: nc, timeout: timeout}
	w.gather, w.file, w.holdFile = w.gatherOnce, w.fileOnce, w.sendHeld
	return w
}

// write writes bufs, with MSG_MORE when more data follows at once (a
// file by sendfile). If the socket is full it leaves the worker pool
// before it waits for room in the runtime's poller.
func (w *rawWriter) write(bufs [][]byte, more bool, wk *worker) error {
	w.bufs, w.wk, w.err = bufs, wk, nil
	w.flags = unix.MSG_NOSIGNAL
	if more {
		w.flags |= unix.MSG_MORE
	}
	err := w.raw.Write(w.gather)
	w.bufs, w.one[0], w.wk = nil, nil, nil
	w.disarm()
	if err != nil {
		return err
	}
	return w.err
}

// waiting is called when a write must wait for room: the worker leaves
// the pool, and the send timeout starts again if bytes went out since it
// last started.
func (w *rawWriter) waiting() {
	w.wk.detach()
	if w.timeout > 0 && (!w.armed || w.moved) {
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
		w.armed, w.moved = true, false
	}
}

// disarm clears the deadline after a write that waited: the next write
// must not inherit it.
func (w *rawWriter) disarm() {
	if w.armed {
		w.nc.SetWriteDeadline(time.Time{})
		w.armed, w.moved = false, false
	}
}

// writeOne is write of a single buffer.
func (w *rawWriter) writeOne(b []byte, wk *worker) error {
	w.one[0] = b
	return w.write(w.one[:], false, wk)
}

// gatherOnce is one turn of write: it returns false to wait for room.
func (w *rawWriter) gatherOnce(fd uintptr) bool {
	for len(w.bufs) > 0 {
		n, err := unix.SendmsgBuffers(int(fd), w.bufs, nil, nil, w.flags)
		switch err {
		case nil:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			w.waiting()
			return false
		default:
			w.err = err
			return true
		}
		w.moved = w.moved || n > 0
		for n > 0 && len(w.bufs) > 0 {
			if n >= len(w.bufs[0]) {
				n -= len(w.bufs[0])
				w.bufs = w.bufs[1:]
			} else {
				w.bufs[0] = w.bufs[0][n:]
				n = 0
			}
		}
	}
	return true
}

// sendFile sends n bytes of a file with sendfile(2), from off (which it
// advances; the file's own offset is untouched, so responses can share a
// descriptor) or, with off nil, from the file's offset. It leaves the
// worker pool if the socket fills up. The file's descriptor is held
// meanwhile: a concurrent Close (the file cache evicting) waits.
func (w *rawWriter) sendFile(file syscall.RawConn, off *int64, n int64, wk *worker) (int64, error) {
	w.off, w.n, w.sent, w.wk, w.err = off, n, 0, wk, nil
	if err := file.Control(w.holdFile); err != nil {
		w.err = err
	}
	sent, err := w.sent, w.err
	w.off, w.wk, w.err = nil, nil, nil
	return sent, err
}

// sendHeld is sendFile with the file's descriptor held.
func (w *rawWriter) sendHeld(fd uintptr) {
	w.src = int(fd)
	if err := w.raw.Write(w.file); err != nil {
		w.err = err
	}
	w.disarm()
}

// fileOnce is one turn of sendFile: it returns false to wait for room.
//
// The socket is edge-triggered, so the wait comes only after EAGAIN, as
// in nginx: a short write is not proof of a full socket (a signal landing
// on the sending thread cuts a sendfile short with room left), and
// waiting then for an edge that never comes stalled a download.
func (w *rawWriter) fileOnce(fd uintptr) bool {
	for w.sent < w.n {
		want := min(w.n-w.sent, sendfileChunk)
		m, err := unix.Sendfile(int(fd), w.src, w.off, int(want))
		if m > 0 {
			w.sent += int64(m)
			w.moved = true
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			w.waiting()
			return false
		case err != nil:
			w.err = err
			return true
		case m == 0:
			w.err = errShortFile // the file ended early
			return true
		}
	}
	return true
}

var errShortFile = errors.New("httpd: file shorter than its length")

// sendfileChunk bounds one sendfile(2), as nginx's sendfile_max_chunk.
const sendfileChunk = 2 << 20
