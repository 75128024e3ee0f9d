package rsyncd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"micromirror/internal/atomicfile"
	"micromirror/internal/clientguard"
	"micromirror/internal/listen"
	"micromirror/internal/telemetry"
)

// Server accepts rsync connections and runs one `rsync --daemon` per
// session in inetd mode.
//
// A connection becomes a session only once the client has greeted
// ("@RSYNCD: ..."), and its handshake (the module and the arguments)
// must be done within the handshake timeout of its arrival, so silent or
// dribbling clients hold no session; each client address has a cap of
// its own besides the node's.
type Server struct {
	log          *slog.Logger
	confPath     string
	opts         Options
	maxSess      int
	maxPerClient int
	handshake    time.Duration
	runAs        string
	spawn        Spawn
	blocklist    *clientguard.Blocklist
	traffic      *telemetry.Traffic
	modules      atomic.Pointer[map[string]string] // module -> project name

	listeners []*listen.Listener
	sessions  atomic.Int64
	refused   atomic.Uint64
	dropped   atomic.Uint64
	wg        sync.WaitGroup
	mu        sync.Mutex // guards cmds, clients
	cmds      map[*exec.Cmd]struct{}
	// clients counts each address's connections (greeting or in a
	// session); an entry lives only as long as its connections.
	clients map[netip.Addr]int
}

// Config configures a Server.
type Config struct {
	StateDir     string
	MaxSessions  int
	MaxPerClient int
	// HandshakeTimeout bounds a connection's greeting and handshake,
	// from its arrival.
	HandshakeTimeout time.Duration
	// RunAs is who sessions run as when the node is root (see Spawn).
	RunAs     string
	Options   Options
	Blocklist *clientguard.Blocklist
	Traffic   *telemetry.Traffic
}

// New returns a server; Prepare, SetModules and Open start it.
func New(cfg Config, log *slog.Logger) *Server {
	s := &Server{log: log, confPath: filepath.Join(cfg.StateDir, "rsyncd.conf"), opts: cfg.Options,
		maxSess: cfg.MaxSessions, maxPerClient: cfg.MaxPerClient, handshake: cfg.HandshakeTimeout, runAs: cfg.RunAs,
		blocklist: cfg.Blocklist, traffic: cfg.Traffic, cmds: map[*exec.Cmd]struct{}{}, clients: map[netip.Addr]int{}}
	if s.handshake <= 0 {
		s.handshake = 10 * time.Second
	}
	s.modules.Store(&map[string]string{})
	return s
}

// Prepare decides how sessions run (see PlanSpawn); the generated config
// follows it. An error means rsync cannot be served safely here.
func (s *Server) Prepare() error {
	sp, err := PlanSpawn(s.runAs)
	if err != nil {
		return err
	}
	s.spawn = sp
	s.opts.Chroot = sp.Chroot
	s.log.Info("rsync sessions", "user", sp.User, "chroot", sp.Chroot)
	return nil
}

// SetModules writes the daemon config for the modules. Sessions started
// afterwards see the new modules; running ones keep theirs.
func (s *Server) SetModules(mods []Module, projectOf map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(s.confPath), 0o755); err != nil {
		return fmt.Errorf("rsyncd config: %w", err)
	}
	if err := atomicfile.Write(s.confPath, RenderConfig(mods, s.opts), 0o644); err != nil {
		return fmt.Errorf("rsyncd config: %w", err)
	}
	m := map[string]string{}
	for k, v := range projectOf {
		m[k] = v
	}
	s.modules.Store(&m)
	return nil
}

// Listen binds every address (a busy port fails here, at start); Start
// accepts on them. Split so a node started as root binds, drops its
// privileges, then serves.
func (s *Server) Listen(ctx context.Context, addrs []string, lopt listen.Options) error {
	if _, err := exec.LookPath("rsync"); err != nil && len(addrs) > 0 {
		return fmt.Errorf("rsync serving needs the rsync binary (Debian package rsync): %w", err)
	}
	for _, a := range addrs {
		l, err := listen.Listen(ctx, a, lopt)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen rsync %s: %w", a, err)
		}
		s.listeners = append(s.listeners, l)
	}
	return nil
}

// Start accepts connections on the bound addresses.
func (s *Server) Start() {
	for _, l := range s.listeners {
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
}

// Addrs returns the bound addresses (tests listen on port 0).
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Sessions is the number of running rsync sessions.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// Refused counts sessions turned away (blocklist or caps).
func (s *Server) Refused() uint64 { return s.refused.Load() }

// Dropped counts connections closed before they greeted as rsync
// clients (silent past the handshake timeout, or not rsync at all).
func (s *Server) Dropped() uint64 { return s.dropped.Load() }

func (s *Server) acceptLoop(l *listen.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("rsync accept", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	arrived := time.Now()
	remote, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	addr := remote.Addr().Unmap()
	if s.blocklist != nil && s.blocklist.Contains(addr) {
		s.refused.Add(1)
		return
	}
	if !s.enter(addr) {
		s.refused.Add(1)
		s.refuse(c, fmt.Sprintf("too many connections from your address (%d)", s.maxPerClient))
		return
	}
	defer s.leave(addr)
	if !awaitGreeting(c, arrived.Add(s.handshake)) {
		s.dropped.Add(1) // silent, or not an rsync client
		return
	}
	if n := s.sessions.Add(1); s.maxSess > 0 && n > int64(s.maxSess) {
		s.sessions.Add(-1)
		s.refused.Add(1)
		s.refuse(c, fmt.Sprintf("max connections (%d) reached -- try again later", s.maxSess))
		return
	}
	defer s.sessions.Add(-1)

	lc, ok := c.(*listen.Conn)
	if !ok {
		return
	}
	f, err := lc.File() // a blocking dup of the socket for the child
	if err != nil {
		s.log.Error("rsync session", "err", err)
		return
	}
	defer f.Close()
	module, err := s.runDaemon(f, arrived.Add(s.handshake))
	if err != nil {
		s.log.Warn("rsync session", "remote", addr, "err", err)
	}
	s.count(f, module, addr.Is6())
}

// enter counts a connection of a client address; false past the cap.
func (s *Server) enter(a netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxPerClient > 0 && s.clients[a] >= s.maxPerClient {
		return false
	}
	s.clients[a]++
	return true
}

func (s *Server) leave(a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients[a]--; s.clients[a] <= 0 {
		delete(s.clients, a)
	}
}

// refuse speaks just enough protocol for the client to print the reason,
// as rsyncd does.
func (s *Server) refuse(c net.Conn, why string) {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "@RSYNCD: 30.0\n@ERROR: %s\n", why)
	lingerClose(c)
}

// greeting is how every rsync client's first line begins.
var greeting = []byte("@RSYNCD: ")

// awaitGreeting waits until the client's first bytes are an rsync
// greeting, looking at them without taking them (rsync reads them), or
// until the deadline: false for a client that sends nothing, too little
// or something else.
func awaitGreeting(c net.Conn, deadline time.Time) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	c.SetReadDeadline(deadline)
	defer c.SetReadDeadline(time.Time{})
	var buf [len("@RSYNCD: ")]byte
	verdict := false
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK)
		switch {
		case err == unix.EAGAIN:
			return false
		case err == unix.EINTR:
			return false
		case err != nil || n == 0:
			return true // gone
		case !bytes.HasPrefix(greeting, buf[:n]):
			return true // not rsync
		case n < len(buf):
			return false // the rest is on its way: wait for it
		}
		verdict = true
		return true
	})
	return err == nil && verdict
}

// runDaemon runs one inetd-mode rsync on the socket and returns the module
// the client opened, read from rsync's log on stderr. A handshake not
// done by the deadline (rsync has logged neither a module list nor a
// transfer) ends the session.
func (s *Server) runDaemon(sock *os.File, deadline time.Time) (string, error) {
	cmd := exec.Command("rsync", "--daemon", "--config="+s.confPath)
	cmd.Stdin, cmd.Stdout = sock, sock
	s.spawn.apply(cmd)
	// In inetd mode rsync detaches stderr, so its log goes to an extra
	// descriptor (fd 3, "log file = /proc/self/fd/3") read here.
	logR, logW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer logR.Close()
	if c := s.spawn.Cred; c != nil {
		// rsync opens its log as /proc/self/fd/3, which checks the
		// pipe's owner: the session's user must own it.
		logW.Chown(int(c.Uid), int(c.Gid))
	}
	cmd.Stderr = logW
	cmd.ExtraFiles = []*os.File{logW}
	err = cmd.Start()
	logW.Close()
	if err != nil {
		return "", fmt.Errorf("start rsync: %w", err)
	}
	s.mu.Lock()
	s.cmds[cmd] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.cmds, cmd)
		s.mu.Unlock()
	}()

	var shook atomic.Bool
	watchdog := time.AfterFunc(time.Until(deadline), func() {
		if !shook.Load() {
			cmd.Process.Kill()
		}
	})
	defer watchdog.Stop()
	module := ""
	sc := bufio.NewScanner(logR)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if _, sess, ok := ParseLogLine(line); ok {
			if sess != "" {
				module = sess
				shook.Store(true)
			}
			continue
		}
		if strings.Contains(line, "] module-list request from ") {
			shook.Store(true)
		}
		s.log.Debug("rsync", "line", line)
	}
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		// rsync exits non-zero when a client hangs up, even after a module
		// listing; only a daemon that could not run is worth a warning.
		if errors.As(err, &ee) {
			s.log.Debug("rsync session ended", "module", module, "exit", ee.ExitCode())
			return module, nil
		}
		return module, fmt.Errorf("rsync daemon: %w", err)
	}
	return module, nil
}

// count adds the session's bytes, read from the kernel's TCP_INFO so the
// file list and protocol overhead are counted like HTTP headers are.
func (s *Server) count(sock *os.File, module string, ipv6 bool) {
	if s.traffic == nil {
		return
	}
	var sent uint64
	if rc, err := sock.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				sent = ti.Bytes_acked
			}
		})
	}
	project := (*s.modules.Load())[module]
	s.traffic.Record(project, telemetry.Rsync, 200, int64(sent), ipv6)
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// Close stops accepting, then waits for running sessions until ctx ends,
// when it kills them.
func (s *Server) Close(ctx context.Context) error {
	s.closeListeners()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for cmd := range s.cmds {
			cmd.Process.Kill()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// lingerClose half-closes and drains what the client sends for a moment,
// so it reads our refusal instead of a reset.
func lingerClose(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, io.LimitReader(c, 4096))
}
