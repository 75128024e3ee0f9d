package httpd

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// rawWriter writes to a socket itself: gathered buffers by sendmsg(2),
// file ranges by sendfile(2). A socket has one write in progress at a
// time (its worker's, or crypto/tls's, which holds its own write lock),
// so the write's state lives here and the functions the runtime calls
// are bound once per connection: a write allocates nothing.
type rawWriter struct {
	raw syscall.RawConn

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

func newRawWriter(raw syscall.RawConn) *rawWriter {
	w := &rawWriter{raw: raw}
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
	if err != nil {
		return err
	}
	return w.err
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
			w.wk.detach()
			return false
		default:
			w.err = err
			return true
		}
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
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			w.wk.detach()
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
