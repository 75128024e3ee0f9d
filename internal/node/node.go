// Package node assembles a mirror node: the HTTP, HTTPS and rsync
// listeners over the project trees, the guard, the access log, the traffic
// counters and the admin interface, with reload and graceful shutdown.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"micromirror/internal/accesslog"
	"micromirror/internal/catalog"
	"micromirror/internal/certs"
	"micromirror/internal/guard"
	"micromirror/internal/hosthealth"
	"micromirror/internal/httpd"
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
	blocklist *guard.Blocklist
	rsync     *rsyncd.Server
	certs     certs.Source
	engine    *syncer.Engine
	plans     []syncer.Plan
	serveOnly []string // projects without a source: served, never synced
	sub       *mqtt.Subscriber
	spool     *telemetry.Spool
	pusher    *telemetry.Pusher // nil without telemetry
	usage     *telemetry.Usage  // top paths, clients, checkers; nil without telemetry
	// HTTP/2 streams being answered now, and refused over the cap.
	h2active  atomic.Int64
	h2refused atomic.Uint64

	mu  sync.Mutex // guards cfg and reloads
	cfg nodeconfig.Config

	state atomic.Pointer[front]
	alog  atomic.Pointer[accesslog.Log]

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
		blocklist: guard.NewBlocklist(),
	}
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
	n.state.Store(st)
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
		srv = both{hs, h2}
		serve = func() error {
			// HTTP/2 connections are handed over by hs on h2l; the
			// node waits for this server too, and hears if it fails.
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				if err := h2.Serve(h2l); err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// both is an HTTPS listener's pair: HTTP/1.1 on the lean server, HTTP/2
// on net/http's.
type both struct {
	h1 *httpd.Server
	h2 *http.Server
}

func (b both) Shutdown(ctx context.Context) error {
	return errors.Join(b.h1.Shutdown(ctx), b.h2.Shutdown(ctx))
}

func (b both) Close() error { return errors.Join(b.h1.Close(), b.h2.Close()) }

// AdminSocket is the admin unix socket of a node config.
func AdminSocket(cfg nodeconfig.Config) string { return filepath.Join(cfg.StateDir, "admin.sock") }

func (n *Node) startEngine(cfg nodeconfig.Config) {
	plans, skipped := syncer.Plans(cfg)
	for _, s := range skipped {
		n.log.Warn("not syncing", "project", s)
	}
	n.plans = plans
	n.serveOnly = nil
	synced := map[string]bool{}
	for _, p := range plans {
		synced[p.Name] = true
	}
	for _, p := range cfg.Projects {
		if !synced[p.Name] {
			n.serveOnly = append(n.serveOnly, p.Name)
		}
	}
	n.engine = syncer.New(syncer.Settings{NodeName: cfg.Name, Contact: cfg.Contact, Sponsor: cfg.Sponsor.Name,
		StateDir: cfg.StateDir, Sync: cfg.Sync}, plans, n.status, n.log.With("component", "sync"))
	n.engine.Start(n.runCtx)
}

// startMQTT subscribes to upstream announcements when a broker is set.
func (n *Node) startMQTT(cfg nodeconfig.Config) error {
	if cfg.MQTT.Broker == "" {
		return nil
	}
	m := cfg.MQTT
	sub, err := mqtt.NewSubscriber(mqtt.SubscriberConfig{
		ClientConfig: mqtt.ClientConfig{Broker: m.Broker, ClientID: m.ClientID, Username: m.Username,
			PasswordFile: m.PasswordFile, CAFile: m.CAFile},
		Topics: m.Topics, Jitter: m.Jitter.D(),
	}, engineTarget{n}, n.log.With("component", "mqtt"))
	if err != nil {
		return err
	}
	n.sub = sub
	sub.Start()
	return nil
}

// engineTarget hands announcements to whichever engine is current, so a
// reload that restarts the engine needs no new subscription.
type engineTarget struct{ n *Node }

func (t engineTarget) ProjectsForModule(m string) []string { return t.n.Engine().ProjectsForModule(m) }
func (t engineTarget) LastSuccess(p string) time.Time      { return t.n.Engine().LastSuccess(p) }
func (t engineTarget) Trigger(p, reason string) error      { return t.n.Engine().Trigger(p, reason) }

// MQTTStats returns the subscriber's counters; ok is false without MQTT.
func (n *Node) MQTTStats() (mqtt.Stats, bool) {
	n.mu.Lock()
	sub := n.sub
	n.mu.Unlock()
	if sub == nil {
		return mqtt.Stats{}, false
	}
	return sub.Stats(), true
}

// Version is reported in telemetry; main sets it from the build.
var Version = "dev"

// startTelemetry spools a batch every interval and pushes the spool to the
// watchtower; the last batch is spooled at shutdown.
func (n *Node) startTelemetry(ctx context.Context, cfg nodeconfig.Config) error {
	t := cfg.Telemetry
	if t.URL == "" {
		return nil
	}
	spool, err := telemetry.OpenSpool(filepath.Join(cfg.StateDir, "spool"), t.SpoolMax)
	if err != nil {
		return err
	}
	n.spool = spool
	col := telemetry.NewCollector(telemetry.Sources{
		Usage: n.usage,
		Node:  cfg.Name, Version: Version, DataDir: cfg.DataDir, Traffic: n.traffic,
		Syncs: n.syncEvents,
		Health: func() telemetry.Health {
			return hosthealth.Read(hosthealth.Sources{SmartDir: t.SmartDir}, time.Now())
		},
		MQTT: func() *telemetry.MQTTState {
			m, ok := n.MQTTStats()
			if !ok {
				return nil
			}
			return &telemetry.MQTTState{Connected: m.Connected, Received: m.Received, Triggered: m.Triggered,
				Ignored: m.UnknownTopic + m.NotHosted + m.Malformed + m.Oversized + m.Duplicate}
		},
	})
	var tc *tls.Config
	if t.CAFile != "" {
		pool, err := certs.LoadCAPool(t.CAFile)
		if err != nil {
			return fmt.Errorf("telemetry ca_file: %w", err)
		}
		tc = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	p, err := telemetry.NewPusher(telemetry.PusherConfig{URL: t.URL, TokenFile: t.TokenFile, TLS: tc, Interval: t.Interval.D()},
		col, spool, n.log.With("component", "telemetry"))
	if err != nil {
		return err
	}
	n.pusher = p
	n.wg.Add(1)
	go func() { defer n.wg.Done(); p.Run(ctx) }()
	return nil
}

// TelemetryQueued is the number of batches waiting in the spool.
func (n *Node) TelemetryQueued() int {
	if n.spool == nil {
		return 0
	}
	return n.spool.Len()
}

// syncEvents reports each project's last run for telemetry.
func (n *Node) syncEvents() []telemetry.SyncEvent {
	var out []telemetry.SyncEvent
	for _, p := range n.Engine().Status() {
		if p.LastRun == nil {
			continue
		}
		r := p.LastRun
		out = append(out, telemetry.SyncEvent{Project: p.Name, Started: r.Started, Seconds: r.Seconds, Result: r.Result,
			Trigger: p.Trigger, BytesReceived: r.BytesReceived, Files: r.FilesTransferred, Deleted: r.FilesDeleted,
			RateBps: r.RateBytesPerSec, LastSuccess: p.LastSuccess, Serial: r.Serial, TreeBytes: r.TreeBytes, Triggers: p.Triggers})
	}
	return out
}

// ProjectStatus lists every hosted project: the engine's, and the ones
// served without a source as "not-synced".
func (n *Node) ProjectStatus() []syncer.ProjectStatus {
	out := n.Engine().Status()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, name := range n.serveOnly {
		out = append(out, syncer.ProjectStatus{Project: status.Project{Name: name, State: "not-synced",
			LastError: "no source and no upstream configured: served as it is"}})
	}
	return out
}

// Engine is the node's sync engine (triggers, status).
func (n *Node) Engine() *syncer.Engine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.engine
}

func (n *Node) lastSync(project string) time.Time {
	p, err := n.status.Load(project)
	if err != nil {
		return time.Time{}
	}
	return p.LastSuccess
}

func (n *Node) setRsyncModules(cfg nodeconfig.Config) error {
	var mods []rsyncd.Module
	projectOf := map[string]string{}
	for _, p := range cfg.Projects {
		desc := p.Name
		if r, ok := catalog.Lookup(p.Name); ok {
			desc = r.Description
		}
		mods = append(mods, rsyncd.Module{Name: p.RsyncModule(), Path: filepath.Join(cfg.DataDir, p.RsyncDir()),
			Comment: fmt.Sprintf("%s (%s, hosted by %s)", desc, cfg.Name, cfg.Sponsor.Name)})
		projectOf[p.RsyncModule()] = p.Name
	}
	return n.rsync.SetModules(mods, projectOf)
}

// Reload applies a new config without dropping connections: pages,
// projects, limits, blocklist, certificates, access log. Listener changes
// need a restart and are reported.
func (n *Node) Reload(cfg nodeconfig.Config) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.cfg
	if keys := nodeconfig.RestartOnly(old, cfg); len(keys) > 0 {
		n.log.Warn("reload: these changes take effect at the next restart", "keys", keys)
	}
	var errs []error
	if _, err := n.blocklist.LoadFile(cfg.Limits.Blocklist); err != nil {
		errs = append(errs, err) // the old list stays in force
	}
	if n.certs != nil {
		if err := n.certs.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.reopenLog(old.AccessLog, cfg); err != nil {
		errs = append(errs, err)
	}
	prev := n.state.Load()
	st, err := n.build(cfg, prev, old)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	n.state.Store(st)
	if st.content != prev.content {
		// Requests in flight may still open files through the old trees.
		time.AfterFunc(cfg.Limits.ShutdownGrace.D()+time.Minute, prev.content.Close)
	}
	if err := n.setRsyncModules(cfg); err != nil {
		errs = append(errs, err)
	}
	if plans, _ := syncer.Plans(cfg); !reflect.DeepEqual(plans, n.plans) || !reflect.DeepEqual(cfg.Sync, old.Sync) {
		// Stopping a run is safe (delay-updates keeps the tree whole).
		// A project whose plan changed syncs by the new one at once (a
		// new source must show it works now, not at the next slot);
		// the others keep their schedules.
		n.log.Info("reload: sync plans changed, restarting the sync engine")
		before := n.plans
		n.engine.Close()
		n.startEngine(cfg)
		for _, p := range n.plans {
			i := slices.IndexFunc(before, func(b syncer.Plan) bool { return b.Name == p.Name })
			if i >= 0 && !reflect.DeepEqual(before[i], p) {
				n.engine.Trigger(p.Name, "reload")
			}
		}
	}
	if !reflect.DeepEqual(cfg.MQTT, old.MQTT) {
		if n.sub != nil {
			n.sub.Close()
			n.sub = nil
		}
		if err := n.startMQTT(cfg); err != nil {
			errs = append(errs, err)
		}
	}
	n.cfg = cfg
	n.log.Info("reloaded", "projects", len(cfg.Projects), "blocklist", n.blocklist.Len())
	return errors.Join(errs...)
}

// ownLogDir is the access log's directory when it lies in the node's
// own state tree: the node makes it, as it makes state_dir. A directory
// elsewhere (/var/log/...) is the host's to make (the package does).
func ownLogDir(cfg nodeconfig.Config) []string {
	if cfg.AccessLog == "" {
		return nil
	}
	dir := filepath.Dir(cfg.AccessLog)
	if strings.HasPrefix(dir, filepath.Clean(cfg.StateDir)+string(filepath.Separator)) {
		return []string{dir}
	}
	return nil
}

func (n *Node) reopenLog(oldPath string, cfg nodeconfig.Config) error {
	newPath := cfg.AccessLog
	if oldPath == newPath {
		return n.alog.Load().Reopen()
	}
	for _, d := range ownLogDir(cfg) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	l, err := accesslog.Open(newPath)
	if err != nil {
		return err
	}
	prev := n.alog.Swap(l)
	return prev.Close()
}

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
	if st := n.state.Load(); st != nil {
		st.content.Close()
	}
	if l := n.alog.Load(); l != nil {
		all = append(all, l.Close())
	}
	return errors.Join(all...)
}

// HTTPAddrs returns the bound plain-HTTP addresses.
func (n *Node) HTTPAddrs() []net.Addr { return n.addrsOf(false) }

// HTTPSAddrs returns the bound HTTPS addresses.
func (n *Node) HTTPSAddrs() []net.Addr { return n.addrsOf(true) }

// RsyncAddrs returns the bound rsync addresses.
func (n *Node) RsyncAddrs() []net.Addr { return n.rsync.Addrs() }

// RsyncSessions is the number of rsync sessions running now.
func (n *Node) RsyncSessions() int64 { return n.rsync.Sessions() }

// AdminAddrs returns the bound admin addresses.
func (n *Node) AdminAddrs() []net.Addr {
	var out []net.Addr
	for _, l := range n.admin {
		out = append(out, l.Addr())
	}
	return out
}

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
