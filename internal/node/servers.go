package node

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"

	"micromirror/internal/certs"
	"micromirror/internal/httpd"
	"micromirror/internal/listen"
	"micromirror/internal/nodeconfig"
)

func (n *Node) certSource(cfg nodeconfig.Config) (certs.Source, error) {
	switch {
	case cfg.TLS.ACME != nil:
		a := cfg.TLS.ACME
		return certs.NewACME(certs.ACMEConfig{
			Names: append([]string{cfg.Name}, a.Names...), Email: a.Email, Directory: a.Directory,
			CAFile: a.CAFile, CacheDir: filepath.Join(cfg.StateDir, "acme"),
		}, n.log.With("component", "acme"))
	case cfg.TLS.SelfSigned:
		return certs.NewSelfSigned(cfg.Name)
	default:
		return certs.NewFiles(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	}
}

func (n *Node) serveOn(l *listen.Listener, h http.Handler, tc *tls.Config) {
	lim := n.cfg.Limits
	var srv server
	var serve func() error
	if tc == nil {
		// Plain HTTP: the lean server, cheap for thousands of keep-alive
		// clients (internal/httpd).
		hs := &httpd.Server{Handler: h, ReadHeaderTimeout: lim.HeaderTimeout.D(), IdleTimeout: lim.IdleTimeout.D(),
			SendTimeout: lim.SendTimeout.D(), MaxConnRequests: lim.KeepaliveRequests, MaxHeaderBytes: 16 << 10,
			Log: n.log.With("component", "httpd")}
		srv, serve = hs, func() error { return hs.Serve(l) }
	} else {
		// HTTPS: the same lean server for HTTP/1.1; connections that
		// choose HTTP/2 go on to net/http's.
		h2l := httpd.NewHTTP2(l.Addr())
		h2 := &http.Server{
			Handler:           n.h2streams(h),
			ReadHeaderTimeout: lim.HeaderTimeout.D(),
			IdleTimeout:       lim.IdleTimeout.D(),
			MaxHeaderBytes:    16 << 10,
			HTTP2: &http.HTTP2Config{
				MaxConcurrentStreams: h2StreamsPerConn,
				// A connection nobody reads from is closed as an HTTP/1.1
				// one is; the node reads no request bodies.
				WriteByteTimeout:              lim.SendTimeout.D(),
				MaxReceiveBufferPerConnection: 64 << 10,
				MaxReceiveBufferPerStream:     16 << 10,
			},
			// Client resets are routine on a public server; keep them out
			// of the operator's log.
			ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
		}
		hs := &httpd.Server{Handler: h, ReadHeaderTimeout: lim.HeaderTimeout.D(), IdleTimeout: lim.IdleTimeout.D(),
			SendTimeout: lim.SendTimeout.D(), MaxConnRequests: lim.KeepaliveRequests, MaxHeaderBytes: 16 << 10,
			Log: n.log.With("component", "httpd"), TLSConfig: tc, HTTP2: h2l}
		srv = httpsServer{hs, h2}
		serve = func() error {
			// HTTP/2 connections are handed over by hs on h2l; the
			// node waits for this server too, and hears if it fails.
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				// Shutdown closes h2l before h2 hears of it: Serve then
				// ends with net.ErrClosed, as normal as ErrServerClosed.
				if err := h2.Serve(h2l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
					n.log.Error("serve http/2", "addr", l.Addr(), "err", err)
				}
			}()
			return hs.Serve(l)
		}
	}
	n.servers = append(n.servers, srv)
	n.listeners = append(n.listeners, l)
	n.isTLS = append(n.isTLS, tc != nil)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("serve", "addr", l.Addr(), "err", err)
		}
	}()
}

// h2streams bounds the HTTP/2 streams h answers (see http2Streams); one
// bound for all the node's HTTPS listeners.
func (n *Node) h2streams(h http.Handler) http.Handler {
	return &http2Streams{next: h, timeout: n.cfg.Limits.SendTimeout.D(), active: &n.h2active, refused: &n.h2refused}
}

// server is what the node needs of its HTTP and HTTPS servers.
type server interface {
	Shutdown(ctx context.Context) error
	Close() error
}

// httpsServer is an HTTPS listener's pair: HTTP/1.1 on the lean server, HTTP/2
// on net/http's.
type httpsServer struct {
	h1 *httpd.Server
	h2 *http.Server
}

func (b httpsServer) Shutdown(ctx context.Context) error {
	return errors.Join(b.h1.Shutdown(ctx), b.h2.Shutdown(ctx))
}

func (b httpsServer) Close() error { return errors.Join(b.h1.Close(), b.h2.Close()) }

// HTTPAddrs returns the bound plain-HTTP addresses.
func (n *Node) HTTPAddrs() []net.Addr { return n.addrsOf(false) }

// HTTPSAddrs returns the bound HTTPS addresses.
func (n *Node) HTTPSAddrs() []net.Addr { return n.addrsOf(true) }

func (n *Node) addrsOf(tlsOnly bool) []net.Addr {
	var out []net.Addr
	for i := range n.servers {
		if n.isTLS[i] == tlsOnly {
			out = append(out, n.listeners[i].Addr())
		}
	}
	return out
}

func addrs(as []net.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
