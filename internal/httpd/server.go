// Package httpd is the node's HTTP/1.1 and 1.0 server, plain and over TLS,
// with keep-alive and pipelining, for any http.Handler. It exists for the
// small boxes the fleet runs on. A connection waiting for its next request
// holds no goroutine and no buffer: it is an entry in an epoll set (see
// loop), and a buffer is taken from a pool only once bytes have arrived.
// So thousands of keep-alive clients cost little memory, a small response
// leaves in a single write(2), and a plain file body goes out with
// sendfile(2) right behind its head. TLS connections that choose HTTP/2
// are handed to net/http's server (see HTTP2).
//
// What it leaves out, by design, for a static file server: request bodies
// (a request that has one is answered, then the connection is closed),
// 1xx responses, trailers, hijacking, and request contexts that are
// canceled when the client goes away.
package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves HTTP/1.x. Set the fields before Serve; it is safe for
// concurrent use after that.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds the arrival of a request head once its
	// first bytes came; IdleTimeout the wait for the next request.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// SendTimeout bounds the wait for a client to take more of a
	// response, from the last bytes it took (0: no bound).
	SendTimeout time.Duration
	// MaxHeaderBytes bounds a request head (default 16 KiB); a longer one
	// is answered 431.
	MaxHeaderBytes int
	// MaxConnRequests closes a connection after this many requests
	// (default 1,000, as nginx's keepalive_requests).
	MaxConnRequests int
	Log             *slog.Logger
	// TLSConfig makes it an HTTPS server: it offers h2 and http/1.1, and
	// hands HTTP/2 connections to HTTP2, a listener for a net/http server
	// (without one, HTTP/2 is not offered).
	TLSConfig *tls.Config
	HTTP2     *HTTP2

	mu        sync.Mutex // guards listeners, lp
	listeners map[net.Listener]struct{}
	lp        *loop
	closing   atomic.Bool
}

const defaultMaxHeader = 16 << 10

// Serve accepts connections on l until Shutdown or Close, and returns
// http.ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	if s.lp == nil {
		if s.TLSConfig != nil {
			cfg := s.TLSConfig.Clone()
			if len(cfg.NextProtos) == 0 {
				if s.HTTP2 != nil {
					cfg.NextProtos = append(cfg.NextProtos, "h2")
				}
				cfg.NextProtos = append(cfg.NextProtos, "http/1.1")
			}
			s.TLSConfig = cfg
		}
		lp, err := newLoop(s)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		s.lp, s.listeners = lp, map[net.Listener]struct{}{}
	}
	lp := s.lp
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of file descriptors or a transient error: wait, as
				// net/http does, rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("accept: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if s.TLSConfig != nil {
			go s.handshake(nc, lp)
			continue
		}
		c, err := newConn(s, nc)
		if err != nil {
			nc.Close()
			return err
		}
		c.lp = lp
		if s.closing.Load() || !lp.add(c) {
			nc.Close()
		}
	}
}

// Shutdown stops accepting, closes idle connections at once and the
// others once their current response is sent, and waits for them until
// ctx ends (then it returns ctx's error; Close cuts the rest).
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	if s.HTTP2 != nil {
		s.HTTP2.Close() // its server shuts its own connections down
	}
	lp := s.loop()
	if lp == nil {
		return nil
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if lp.closeWaiting(true) == 0 {
			lp.close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes the listeners and every connection now.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.closeListeners()
	if s.HTTP2 != nil {
		s.HTTP2.Close()
	}
	if lp := s.loop(); lp != nil {
		lp.close()
	}
	return nil
}

func (s *Server) loop() *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lp
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		l.Close()
	}
}

func (s *Server) maxConnRequests() int {
	if s.MaxConnRequests > 0 {
		return s.MaxConnRequests
	}
	return defaultConnRequests
}

func (s *Server) maxHeader() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return defaultMaxHeader
}

// logf logs at debug level; nothing is formatted when that level is off.
func (s *Server) logf(format string, args ...any) {
	if s.Log != nil && s.Log.Enabled(context.Background(), slog.LevelDebug) {
		s.Log.Debug(fmt.Sprintf(format, args...))
	}
}

// logPanic reports a handler's panic (a bug: the connection is closed):
// the value as a warning, the stack only when debug logging is on.
func (s *Server) logPanic(remote string, p any) {
	if s.Log == nil {
		return
	}
	if s.Log.Enabled(context.Background(), slog.LevelDebug) {
		s.Log.Debug("panic serving", "remote", remote, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return
	}
	s.Log.Warn("panic serving", "remote", remote, "panic", fmt.Sprint(p))
}
