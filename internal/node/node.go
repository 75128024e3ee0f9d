// Package node assembles a mirror node from its parts, one file each:
// the HTTP, HTTPS and rsync listeners (servers.go, rsync.go) over the
// serving front a config builds (front.go: content, guard), the sync
// engine and its push policy (sync.go, mqtt.go), telemetry, the admin
// interface (admin.go), reload (reload.go), and New, Open and Close here.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"micromirror/internal/accesslog"
	"micromirror/internal/certs"
	"micromirror/internal/clientguard"
	"micromirror/internal/listen"
	"micromirror/internal/mqtt"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/rsyncd"
	"micromirror/internal/status"
	"micromirror/internal/syncer"
	"micromirror/internal/telemetry"
)

// Node is one running mirror node.
type Node struct {
	log       *slog.Logger
	status    *status.Store
	traffic   *telemetry.Traffic
	blocklist *clientguard.Blocklist
	rsync     *rsyncd.Server
	certs     certs.Source
	engine    *syncer.Engine
	plans     []syncer.Plan
	serveOnly []string // projects without a source: served, never synced
	sub       *mqtt.Subscriber
	pushes    *syncer.Pushes // what an announcement starts; lives as long as the node
	spool     *telemetry.Spool
	pusher    *telemetry.Pusher // nil without telemetry
	usage     *telemetry.Usage  // top paths, clients, checkers; nil without telemetry
	// HTTP/2 streams being answered now, and refused over the cap.
	h2active  atomic.Int64
	h2refused atomic.Uint64

	mu  sync.Mutex // guards cfg and reloads
	cfg nodeconfig.Config

	serving atomic.Pointer[servingFront]
	alog    atomic.Pointer[accesslog.Log]

	servers   []server
	listeners []*listen.Listener
	isTLS     []bool // parallel to servers
	admin     []net.Listener
	// bound are the HTTP(S) listeners, closed on Close even when Open
	// failed before serving them; adminSockets the unix sockets made.
	bound        []*listen.Listener
	adminSockets []string
	drop         func(sockets []string) error
	wg           sync.WaitGroup
	// runCtx is the node's life: the engine, ACME prefetch and the like
	// run in it, and close cancels it first.
	runCtx    context.Context
	cancel    context.CancelFunc
	telCancel context.CancelFunc // ends telemetry after the servers stopped
	closeOnce sync.Once
	closeErr  error
}

// New prepares a node; Open starts it.
func New(cfg nodeconfig.Config, log *slog.Logger) *Node {
	n := &Node{
		log:       log,
		cfg:       cfg,
		status:    status.NewStore(filepath.Join(cfg.StateDir, "status")),
		traffic:   telemetry.NewTraffic(),
		blocklist: clientguard.NewBlocklist(),
	}
	n.pushes = syncer.NewPushes(engineTarget{n}, cfg.MQTT.Jitter.D())
	n.rsync = rsyncd.New(rsyncd.Config{
		StateDir:         cfg.StateDir,
		MaxSessions:      cfg.Limits.MaxRsyncSessions,
		MaxPerClient:     cfg.Limits.MaxRsyncPerClient,
		HandshakeTimeout: cfg.Limits.HeaderTimeout.D(),
		RunAs:            cfg.User,
		Options:          rsyncd.Options{TimeoutSec: 600},
		Blocklist:        n.blocklist,
		Traffic:          n.traffic,
	}, log.With("component", "rsyncd"))
	return n
}

// Traffic exposes the counters (admin API, telemetry).
func (n *Node) Traffic() *telemetry.Traffic { return n.traffic }

// Open listens on every configured address (a busy port fails here) and
// starts serving.
func (n *Node) Open(ctx context.Context) (err error) {
	cfg := n.cfg
	defer func() {
		if err != nil {
			n.Close(context.Background())
		}
	}()
	for _, d := range append([]string{cfg.DataDir, cfg.StateDir}, ownLogDir(cfg)...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Every listener first: privileged ports need the privilege, which a
	// node started as root gives up right after (SetPrivilegeDrop).
	lopt := listen.Options{MaxConns: cfg.Limits.MaxConnections, UserTimeout: cfg.Limits.SendTimeout.D()}
	if cfg.DSCP == "cs1" {
		lopt.TOS = listen.CS1
	}
	var httpLs, httpsLs []*listen.Listener
	for _, l := range []struct {
		scheme string
		addrs  []string
		into   *[]*listen.Listener
	}{{"http", cfg.Listen.HTTP, &httpLs}, {"https", cfg.Listen.HTTPS, &httpsLs}} {
		for _, a := range l.addrs {
			ln, err := listen.Listen(ctx, a, lopt)
			if err != nil {
				return fmt.Errorf("listen %s %s: %w", l.scheme, a, err)
			}
			n.bound = append(n.bound, ln)
			*l.into = append(*l.into, ln)
		}
	}
	if err := n.rsync.Listen(ctx, cfg.Listen.Rsync, lopt); err != nil {
		return err
	}
	// The unix socket in state_dir is always there: `micromirror node
	// status` and `sync` find it from the config alone.
	if err := n.listenAdmin(ctx, append(slices.Clone(cfg.Listen.Admin), "unix:"+AdminSocket(cfg))); err != nil {
		return err
	}
	if n.drop != nil {
		if err := n.drop(n.adminSockets); err != nil {
			return fmt.Errorf("drop privileges: %w", err)
		}
	}

	if _, err := n.blocklist.LoadFile(cfg.Limits.Blocklist); err != nil {
		return err
	}
	alog, err := accesslog.Open(cfg.AccessLog)
	if err != nil {
		return err
	}
	n.alog.Store(alog)
	st, err := n.build(cfg, nil, nodeconfig.Config{})
	if err != nil {
		return err
	}
	n.serving.Store(st)
	if cfg.Telemetry.URL != "" {
		n.usage = telemetry.NewUsage() // before any listener serves
	}
	if len(cfg.Listen.Rsync) > 0 {
		if err := n.rsync.Prepare(); err != nil {
			return fmt.Errorf("rsync serving: %w", err)
		}
	}
	if err := n.setRsyncModules(cfg); err != nil {
		return err
	}
	if len(cfg.Listen.HTTPS) > 0 {
		if n.certs, err = n.certSource(cfg); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.runCtx, n.cancel = runCtx, cancel
	// The engine and the subscriber exist before any listener serves (the
	// admin API reads them) and are swapped under mu on reload.
	n.mu.Lock()
	n.startEngine(cfg)
	err = n.startMQTT(cfg)
	n.mu.Unlock()
	if err != nil {
		return err
	}

	httpHandler, httpsHandler := n.current(), n.observe(n.current())
	if n.certs != nil {
		httpHandler = n.certs.HTTPHandler(httpHandler)
	}
	httpHandler = n.observe(httpHandler)
	for _, l := range httpLs {
		n.serveOn(l, httpHandler, nil)
	}
	for _, l := range httpsLs {
		tc := &tls.Config{GetCertificate: n.certs.GetCertificate, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"}}
		n.serveOn(l, httpsHandler, tc)
	}
	n.rsync.Start()
	n.serveAdmin()
	telCtx, telCancel := context.WithCancel(context.Background())
	n.telCancel = telCancel
	if err := n.startTelemetry(telCtx, cfg); err != nil {
		return err
	}
	if a, ok := n.certs.(*certs.ACME); ok {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); a.Prefetch(runCtx) }()
	}
	n.log.Info("node serving", "name", cfg.Name, "projects", len(cfg.Projects),
		"http", addrs(n.HTTPAddrs()), "https", addrs(n.HTTPSAddrs()), "rsync", addrs(n.rsync.Addrs()))
	return nil
}

// SetPrivilegeDrop makes Open call drop once every listener is bound and
// before anything else runs: how a node started as root gives up root
// (cmd/micromirror does it as a process; a node in a test's process
// never does). drop gets the admin unix sockets created, to hand them to
// the user.
func (n *Node) SetPrivilegeDrop(drop func(sockets []string) error) { n.drop = drop }

// Close stops accepting, lets running downloads finish until ctx ends,
// then cuts the rest. Calls after the first return its result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.close(ctx) })
	return n.closeErr
}

func (n *Node) close(ctx context.Context) error {
	if n.cancel != nil {
		n.cancel()
	}
	if n.sub != nil {
		n.sub.Close()
	}
	n.pushes.Close()
	if n.engine != nil {
		n.engine.Close()
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(n.servers)+2)
	for _, s := range n.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
				errs <- fmt.Errorf("shutdown: %w", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := n.rsync.Close(ctx); err != nil {
			errs <- fmt.Errorf("rsync shutdown: %w", err)
		}
	}()
	wg.Wait()
	// Every request has ended: the last batch holds all the traffic.
	if n.telCancel != nil {
		n.telCancel()
	}
	for _, l := range n.admin {
		l.Close()
	}
	for _, l := range n.bound {
		l.Close()
	}
	n.wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	if st := n.serving.Load(); st != nil {
		st.content.Close()
	}
	if l := n.alog.Load(); l != nil {
		all = append(all, l.Close())
	}
	return errors.Join(all...)
}
