package rsyncd

import (
	"bufio"
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
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"micromirror/internal/guard"
	"micromirror/internal/listen"
	"micromirror/internal/status"
	"micromirror/internal/telemetry"
)

// Server accepts rsync connections and runs one `rsync --daemon` per
// session in inetd mode.
type Server struct {
	log       *slog.Logger
	confPath  string
	opts      Options
	maxSess   int
	blocklist *guard.Blocklist
	traffic   *telemetry.Traffic
	modules   atomic.Pointer[map[string]string] // module -> project name

	listeners []*listen.Listener
	sessions  atomic.Int64
	refused   atomic.Uint64
	wg        sync.WaitGroup
	mu        sync.Mutex // guards cmds
	cmds      map[*exec.Cmd]struct{}
}

// Config configures a Server.
type Config struct {
	StateDir    string
	MaxSessions int
	Options     Options
	Blocklist   *guard.Blocklist
	Traffic     *telemetry.Traffic
}

// New returns a server; Open starts it.
func New(cfg Config, log *slog.Logger) *Server {
	s := &Server{log: log, confPath: filepath.Join(cfg.StateDir, "rsyncd.conf"), opts: cfg.Options,
		maxSess: cfg.MaxSessions, blocklist: cfg.Blocklist, traffic: cfg.Traffic, cmds: map[*exec.Cmd]struct{}{}}
	s.modules.Store(&map[string]string{})
	return s
}

// SetModules writes the daemon config for the modules. Sessions started
// afterwards see the new modules; running ones keep theirs.
func (s *Server) SetModules(mods []Module, projectOf map[string]string) error {
	if err := os.MkdirAll(filepath.Dir(s.confPath), 0o755); err != nil {
		return fmt.Errorf("rsyncd config: %w", err)
	}
	if err := status.WriteFileAtomic(s.confPath, RenderConfig(mods, s.opts), 0o644); err != nil {
		return fmt.Errorf("rsyncd config: %w", err)
	}
	m := map[string]string{}
	for k, v := range projectOf {
		m[k] = v
	}
	s.modules.Store(&m)
	return nil
}

// Open listens on every address; a busy port fails here, at start.
func (s *Server) Open(ctx context.Context, addrs []string, lopt listen.Options) error {
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
	for _, l := range s.listeners {
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
	return nil
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

// Refused counts sessions turned away (blocklist or cap).
func (s *Server) Refused() uint64 { return s.refused.Load() }

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
	remote, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	if s.blocklist != nil && s.blocklist.Contains(remote.Addr()) {
		s.refused.Add(1)
		return
	}
	if n := s.sessions.Add(1); s.maxSess > 0 && n > int64(s.maxSess) {
		s.sessions.Add(-1)
		s.refused.Add(1)
		// Speak just enough protocol for the client to print the reason.
		fmt.Fprintf(c, "@RSYNCD: 30.0\n@ERROR: max connections (%d) reached -- try again later\n", s.maxSess)
		lingerClose(c)
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
	module, err := s.runDaemon(f)
	if err != nil {
		s.log.Warn("rsync session", "remote", remote.Addr(), "err", err)
	}
	s.count(f, module, remote.Addr().Unmap().Is6())
}

// runDaemon runs one inetd-mode rsync on the socket and returns the module
// the client opened, read from rsync's log on stderr.
func (s *Server) runDaemon(sock *os.File) (string, error) {
	cmd := exec.Command("rsync", "--daemon", "--config="+s.confPath)
	cmd.Stdin, cmd.Stdout = sock, sock
	// In inetd mode rsync detaches stderr, so its log goes to an extra
	// descriptor (fd 3, "log file = /proc/self/fd/3") read here.
	logR, logW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer logR.Close()
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

	module := ""
	sc := bufio.NewScanner(logR)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if _, sess, ok := ParseLogLine(line); ok {
			if sess != "" {
				module = sess
			}
			continue
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
