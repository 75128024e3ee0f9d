package httpd

import (
	"time"

	"golang.org/x/sys/unix"
)

// Lingering close. When the server ends a connection while the client may
// still be sending (a refused head, a body it does not read, pipelined
// requests past the last one answered), closing the socket with unread
// bytes sends a reset, and a reset can destroy the response on its way:
// the client sees "connection reset" instead of the 400 or 413. So the
// write side is shut (the client reads the response, then end of file)
// and what still comes is read and dropped until the client closes, for
// a while, as nginx's lingering_close and net/http's closeWriteAndWait do.
const (
	lingerTime    = 5 * time.Second        // the longest a closing connection is read
	lingerTimeout = 500 * time.Millisecond // without bytes it is closed sooner (net/http waits 500 ms)
	lingerTurn    = 64 << 10               // bytes dropped a turn before other connections get the worker
)

// linger shuts the write side and drops the client's further input; the
// reaper closes the connection at the limits above.
func (c *conn) linger(w *worker) {
	if c.hup || c.s.closing.Load() {
		c.lp.remove(c)
		return
	}
	unix.Shutdown(c.fd, unix.SHUT_WR)
	c.lingering = true
	c.pending, c.tlsOver = nil, nil
	c.headStart.Store(0)
	c.lingerEnd.Store(time.Now().Add(lingerTime).UnixNano())
	c.discard(w)
}

// discard reads and drops what a lingering connection's client sends,
// and closes it at end of file.
func (c *conn) discard(w *worker) {
	if time.Now().UnixNano() > c.lingerEnd.Load() {
		c.lp.remove(c) // a client that sends without end
		return
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for dropped := 0; dropped < lingerTurn; {
		n, err := readNonblock(c.fd, *bp)
		switch {
		case err == unix.EAGAIN:
			if c.lp.idle(c) {
				continue
			}
			return
		case err != nil || n == 0:
			c.lp.remove(c)
			return
		}
		dropped += n
	}
	if !c.lp.requeue(c) {
		c.lp.remove(c) // every worker is busy: this one is not worth one
	}
}
