// Package listen opens the node's public TCP listeners: every socket marked
// with the configured DSCP class, and a cap on open connections.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CS1 is the DSCP scavenger class as a TOS / traffic-class byte (8 << 2).
const CS1 = 0x20

// Options shape a listener.
type Options struct {
	// TOS is the byte for IP_TOS and IPV6_TCLASS; 0 leaves the default.
	TOS int
	// MaxConns caps open connections; beyond it new ones are closed at once.
	MaxConns int
	// UserTimeout is each accepted socket's TCP_USER_TIMEOUT: how long
	// sent data may stay unacknowledged (zero-window probes included)
	// before the kernel drops the connection; 0 leaves the default.
	UserTimeout time.Duration
}

// Listener is a TCP listener that marks and caps its connections.
type Listener struct {
	net.Listener
	opt      Options
	open     atomic.Int64
	rejected atomic.Uint64
}

// Listen opens addr ("host:port"). The TOS byte is set on the listening
// socket, so the SYN-ACK is already marked, and again on each accepted one.
func Listen(ctx context.Context, addr string, opt Options) (*Listener, error) {
	lc := net.ListenConfig{Control: func(network, _ string, c syscall.RawConn) error {
		if opt.TOS == 0 {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) { serr = setTOS(int(fd), network, opt.TOS) })
		return errors.Join(err, serr)
	}}
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{Listener: l, opt: opt}, nil
}

// setTOS marks a socket. An IPv6 socket also carries IPv4-mapped traffic
// when bound to "::", so it gets both options.
func setTOS(fd int, network string, tos int) error {
	v4err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos)
	if network == "tcp4" {
		if v4err != nil {
			return fmt.Errorf("set IP_TOS: %w", v4err)
		}
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos); err != nil {
		return fmt.Errorf("set IPV6_TCLASS: %w", err)
	}
	return nil
}

// Accept returns the next connection within the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return c, nil
		}
		if l.opt.MaxConns > 0 && l.open.Load() >= int64(l.opt.MaxConns) {
			l.rejected.Add(1)
			tc.SetLinger(0)
			tc.Close()
			continue
		}
		if rc, err := tc.SyscallConn(); err == nil && (l.opt.TOS != 0 || l.opt.UserTimeout > 0) {
			network := "tcp6"
			if a, ok := tc.LocalAddr().(*net.TCPAddr); ok && a.IP.To4() != nil {
				network = "tcp4"
			}
			rc.Control(func(fd uintptr) {
				if l.opt.TOS != 0 {
					setTOS(int(fd), network, l.opt.TOS)
				}
				if ms := l.opt.UserTimeout.Milliseconds(); ms > 0 {
					unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(ms))
				}
			})
		}
		l.open.Add(1)
		return &Conn{TCPConn: tc, l: l}, nil
	}
}

// Open is the number of connections currently open.
func (l *Listener) Open() int64 { return l.open.Load() }

// Rejected counts connections closed because of the cap.
func (l *Listener) Rejected() uint64 { return l.rejected.Load() }

// Conn is an accepted connection. It embeds *net.TCPConn so net/http still
// finds ReadFrom and answers plain HTTP with sendfile(2).
type Conn struct {
	*net.TCPConn
	l    *Listener
	once sync.Once
}

// Close closes the connection and frees its place under the cap.
func (c *Conn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
