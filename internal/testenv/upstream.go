package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Upstream is a real `rsync --daemon` on loopback serving modules from
// temp dirs: the test's stand-in for the fleet's heavy-iron mirror.
type Upstream struct {
	tb   testing.TB
	Port int
	conf string
	cmd  *exec.Cmd
}

// StartUpstream writes an rsyncd.conf for the modules (name -> dir) and
// starts the daemon on a free loopback port.
func StartUpstream(tb testing.TB, modules map[string]string) *Upstream {
	tb.Helper()
	RequireBinary(tb, "rsync")
	dir := tb.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "use chroot = no\nread only = yes\nlist = yes\nnumeric ids = yes\nlog file = %s\n", filepath.Join(dir, "rsyncd.log"))
	if os.Geteuid() == 0 {
		b.WriteString("uid = 0\ngid = 0\n")
	}
	for name, path := range modules {
		fmt.Fprintf(&b, "[%s]\n\tpath = %s\n", name, path)
	}
	u := &Upstream{tb: tb, conf: filepath.Join(dir, "rsyncd.conf")}
	if err := os.WriteFile(u.conf, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		u.Port = FreePort(tb)
		if u.start() == nil {
			tb.Cleanup(u.Stop)
			return u
		}
	}
	tb.Fatal("rsync daemon did not start")
	return nil
}

func (u *Upstream) start() error {
	u.cmd = exec.Command("rsync", "--daemon", "--no-detach", "--config="+u.conf,
		"--address=127.0.0.1", fmt.Sprintf("--port=%d", u.Port))
	u.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := u.cmd.Start(); err != nil {
		return err
	}
	if err := waitListening(u.Addr()); err != nil {
		u.Stop()
		return fmt.Errorf("rsync daemon: %w", err)
	}
	return nil
}

// waitListening waits up to 2 s for a TCP server to accept.
func waitListening(addr string) error {
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on %s", addr)
}

// Addr is host:port of the daemon.
func (u *Upstream) Addr() string { return fmt.Sprintf("127.0.0.1:%d", u.Port) }

// URL is rsync://host:port/module/.
func (u *Upstream) URL(module string) string { return "rsync://" + u.Addr() + "/" + module + "/" }

// Stop kills the daemon and every session it forked, mid-transfer or not.
func (u *Upstream) Stop() {
	if u.cmd == nil || u.cmd.Process == nil {
		return
	}
	syscall.Kill(-u.cmd.Process.Pid, syscall.SIGKILL)
	u.cmd.Wait()
	u.cmd = nil
}

// Restart starts the daemon again on the same port.
func (u *Upstream) Restart() {
	u.tb.Helper()
	u.Stop()
	var err error
	for i := 0; i < 50; i++ {
		if err = u.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	u.tb.Fatalf("restart upstream: %v", err)
}

// Freeze stops (SIGSTOP) the daemon and its sessions: connections stay
// open but no byte moves, like a hung upstream. Thaw resumes them.
func (u *Upstream) Freeze() { syscall.Kill(-u.cmd.Process.Pid, syscall.SIGSTOP) }

// Thaw resumes a frozen daemon.
func (u *Upstream) Thaw() { syscall.Kill(-u.cmd.Process.Pid, syscall.SIGCONT) }

// ChildCPU is the CPU time the daemon's finished sessions used (the
// children it reaped: /proc/<pid>/stat cutime + cstime): what serving
// clients cost the upstream, to the clock tick.
func (u *Upstream) ChildCPU() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", u.cmd.Process.Pid))
	if err != nil {
		u.tb.Fatal(err)
	}
	// Fields after the command name in parentheses; cutime and cstime are
	// the 16th and 17th fields of the line.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	var ticks int64
	for _, s := range f[13:15] {
		var n int64
		fmt.Sscan(s, &n)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}
