package mqtt

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is the embedded MQTT broker (mochi-mqtt) for setups too small
// for Mosquitto.
type Broker struct {
	srv *mochi.Server
	ln  *greetListener
}

// StartBroker listens on addr. With users (name -> password) only they
// may connect; without, anyone who can reach addr may.
func StartBroker(addr string, users map[string]string, log *slog.Logger) (*Broker, error) {
	srv := mochi.New(&mochi.Options{Logger: slog.New(brokerLog{log.Handler()})})
	var err error
	if len(users) == 0 {
		err = srv.AddHook(new(auth.AllowHook), nil)
	} else {
		var rules auth.AuthRules
		for u, p := range users {
			rules = append(rules, auth.AuthRule{Username: auth.RString(u), Password: auth.RString(p), Allow: true})
		}
		err = srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: rules}})
	}
	if err != nil {
		return nil, fmt.Errorf("broker auth: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker listen %s: %w", addr, err)
	}
	ln := &greetListener{Listener: l, conns: map[*greetConn]struct{}{}}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker listen %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, ln: ln}, nil
}

// Addr is the bound address.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Close stops the broker. Every connection is closed first: mochi-mqtt
// waits for each client to end, and one that never sent CONNECT would
// otherwise hold it until its deadline.
func (b *Broker) Close() error {
	b.ln.closeAll()
	return b.srv.Close()
}

// connectTimeout bounds the wait for a client's CONNECT. mochi-mqtt reads
// it without a deadline (the keepalive applies only after it), so a
// socket opened and left silent, by a scanner or on purpose, would hold
// a goroutine for good.
var connectTimeout = 10 * time.Second // a variable for the tests

// greetListener gives each accepted connection connectTimeout to send
// CONNECT (mochi-mqtt replaces the deadline with the keepalive's once it
// has) and keeps the open connections so Close can end them all.
type greetListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[*greetConn]struct{}
	closed bool
}

func (l *greetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(connectTimeout))
	gc := &greetConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[gc] = struct{}{}
	return gc, nil
}

// closeAll closes the listener and every connection it handed out.
func (l *greetListener) closeAll() {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[*greetConn]struct{}{}
	l.mu.Unlock()
	l.Listener.Close()
	for c := range conns {
		c.Conn.Close()
	}
}

// greetConn leaves its listener's set when closed.
type greetConn struct {
	net.Conn
	l    *greetListener
	once sync.Once
}

func (c *greetConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
