package httpd

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loop watches the server's idle connections with an epoll set of its
// own and serves their requests on a small pool of workers. A connection
// waiting for a request is only an entry in the set: no goroutine, no
// buffer. One goroutine waits for the set through the runtime's poller
// (the set is itself a pollable descriptor), takes every ready connection
// with epoll_wait(0) and queues it for the workers. A worker about to
// block (a socket full with a slow client) leaves the pool first and a
// new one takes its place, so slow clients never starve the rest.
type loop struct {
	s    *Server
	ep   *os.File // the epoll set, registered with the runtime's poller
	raw  syscall.RawConn
	epfd int

	mu    sync.Mutex // guards conns, closed
	conns map[uint64]*conn
	// closed: workers and the reaper end, no connection is added.
	closed bool

	nextID atomic.Uint64
	// ready queues the connections that have bytes for the workers.
	ready chan *conn
	done  chan struct{} // closed at close: the workers end
}

// workersPerCPU sizes the pool: enough that a worker waiting on the disk
// does not idle a processor.
const workersPerCPU = 4

func newLoop(s *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so os.NewFile registers it with the runtime's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ep := os.NewFile(uintptr(epfd), "httpd-epoll")
	raw, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, err
	}
	lp := &loop{s: s, ep: ep, raw: raw, epfd: epfd, conns: map[uint64]*conn{},
		ready: make(chan *conn, 1024), done: make(chan struct{})}
	for range workersPerCPU * runtime.GOMAXPROCS(0) {
		go lp.work()
	}
	go lp.poll()
	go lp.reap()
	return lp, nil
}

// add starts watching a new connection.
func (lp *loop) add(c *conn) bool {
	c.id = lp.nextID.Add(1)
	lp.mu.Lock()
	if lp.closed {
		lp.mu.Unlock()
		return false
	}
	lp.conns[c.id] = c
	lp.mu.Unlock()
	if !lp.ctl(c, unix.EPOLL_CTL_ADD) {
		lp.remove(c)
		return false
	}
	return true
}

// idle hands a connection its worker is done with back to the set. The
// set is edge-triggered: bytes that came while the worker was busy left
// the connection dirty, and the worker serves it again instead; so no
// arrival is missed and no system call re-arms the connection.
func (lp *loop) idle(c *conn) (again bool) {
	c.since.Store(time.Now().UnixNano())
	for {
		if c.state.CompareAndSwap(stateBusy, stateArmed) {
			return false
		}
		if c.state.CompareAndSwap(stateDirty, stateBusy) {
			return true
		}
	}
}

// ctl registers a new connection, edge-triggered. The set's descriptor is
// used under the os.File's reference count, so a closed set is an error
// here, never a reused number.
func (lp *loop) ctl(c *conn, op int) bool {
	c.since.Store(time.Now().UnixNano())
	c.state.Store(stateArmed)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET}
	setID(&ev, c.id)
	var err error
	if cerr := lp.raw.Control(func(fd uintptr) { err = unix.EpollCtl(int(fd), op, c.fd, &ev) }); cerr != nil {
		return false
	}
	return err == nil
}

// remove closes a connection the caller owns and forgets it.
func (lp *loop) remove(c *conn) {
	c.state.Store(stateClosed)
	c.nc.Close() // also takes the socket out of the set
	lp.mu.Lock()
	delete(lp.conns, c.id)
	lp.mu.Unlock()
}

// poll waits for the set and queues its ready connections: epoll_wait
// without a timeout, and when nothing is ready, a wait in the runtime's
// poller on the set.
func (lp *loop) poll() {
	var evs [128]unix.EpollEvent
	var n int
	var werr error
	// Made once: a closure made in the loop would be garbage every turn.
	wait := func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), evs[:], 0)
		return werr != nil && werr != unix.EINTR || n > 0
	}
	for {
		err := lp.raw.Read(wait)
		if err == nil {
			err = werr
		}
		if err != nil {
			if !lp.isClosed() {
				lp.s.logf("epoll: %v", err)
			}
			return
		}
		for i := range evs[:n] {
			c := lp.lookup(idOf(&evs[i]))
			if c == nil || !c.claim() {
				continue // closed meanwhile, or being served (now dirty)
			}
			// The peer has shut its side: the socket holds an end of
			// file to read after the bytes.
			c.hup = evs[i].Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
			c.drained = false
			select {
			case lp.ready <- c:
			case <-lp.done:
				return
			}
		}
	}
}

// kick queues a connection whose bytes were read before it joined the
// set, as if the set had reported it.
func (lp *loop) kick(c *conn) {
	if !c.claim() {
		return
	}
	select {
	case lp.ready <- c:
	case <-lp.done:
	}
}

// requeue puts a connection its worker is still holding at the back of
// the queue, so the connections waiting get their turn first; false if
// the queue is full.
func (lp *loop) requeue(c *conn) bool {
	select {
	case lp.ready <- c:
		return true
	default:
		return false
	}
}

// work is a worker: serve a ready connection, again.
func (lp *loop) work() {
	w := &worker{lp: lp}
	for {
		var c *conn
		select {
		case c = <-lp.ready:
		case <-lp.done:
			return
		}
		c.serveReady(w)
		if w.detached {
			return // a replacement took this worker's place
		}
	}
}

// worker is the goroutine serving a connection, as the loop sees it.
type worker struct {
	lp       *loop
	detached bool
}

// detach takes the worker out of the pool before it blocks, and puts a
// new one in; the detached one ends when its connection is done.
func (w *worker) detach() {
	if w == nil || w.detached {
		return
	}
	w.detached = true
	select {
	case <-w.lp.done:
	default:
		go w.lp.work()
	}
}

func (lp *loop) lookup(id uint64) *conn {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.conns[id]
}

func (lp *loop) isClosed() bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.closed
}

// reapEvery is the timeouts' resolution.
const reapEvery = 100 * time.Millisecond

// reap closes connections that waited longer than their timeout: the
// idle timeout between requests, the header timeout for a head that has
// begun (from its first byte), the lingering limits for a connection
// being closed.
func (lp *loop) reap() {
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for range t.C {
		if lp.isClosed() {
			return
		}
		lp.closeWaiting(false)
	}
}

// closeWaiting closes armed connections past their timeout (all of them
// with all set) and returns how many connections remain.
func (lp *loop) closeWaiting(all bool) int {
	now := time.Now().UnixNano()
	idle, header := int64(lp.s.IdleTimeout), int64(lp.s.ReadHeaderTimeout)
	var expired []*conn
	lp.mu.Lock()
	for _, c := range lp.conns {
		if c.state.Load() != stateArmed {
			continue
		}
		limit, from := idle, c.since.Load()
		if hs := c.headStart.Load(); hs != 0 {
			limit, from = header, hs
		}
		over := false
		if end := c.lingerEnd.Load(); end != 0 {
			limit, over = int64(lingerTimeout), now > end
		}
		if all || over || limit > 0 && now-from > limit {
			expired = append(expired, c)
		}
	}
	n := len(lp.conns)
	lp.mu.Unlock()
	for _, c := range expired {
		if c.state.CompareAndSwap(stateArmed, stateClosed) {
			lp.remove(c)
			n--
		}
	}
	return n
}

// close ends the workers and the reaper and closes every connection.
func (lp *loop) close() {
	lp.mu.Lock()
	if lp.closed {
		lp.mu.Unlock()
		return
	}
	lp.closed = true
	conns := make([]*conn, 0, len(lp.conns))
	for _, c := range lp.conns {
		conns = append(conns, c)
	}
	lp.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
	close(lp.done)
	// The poller wakes with os.ErrClosed; the descriptor itself goes when
	// it has left.
	lp.ep.Close()
}

func setID(ev *unix.EpollEvent, id uint64) {
	ev.Fd, ev.Pad = int32(id), int32(id>>32)
}

func idOf(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
