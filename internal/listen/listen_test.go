package listen

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAcceptedSocketOptions: accepted sockets carry the DSCP mark and
// TCP_USER_TIMEOUT, so a vanished client's unacknowledged data holds its
// connection for the send timeout, not the kernel's 15 minutes.
func TestAcceptedSocketOptions(t *testing.T) {
	l, err := Listen(context.Background(), "127.0.0.1:0", Options{TOS: CS1, UserTimeout: 7 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var tos, uto int
	rc.Control(func(fd uintptr) {
		tos, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS)
		uto, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
	})
	if tos != CS1 || uto != 7000 {
		t.Errorf("IP_TOS %#x, TCP_USER_TIMEOUT %d ms; want %#x, 7000", tos, uto, CS1)
	}
}
