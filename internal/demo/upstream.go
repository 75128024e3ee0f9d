package demo

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// upstream is the demo's heavy-iron mirror: `rsync --daemon` on loopback.
type upstream struct {
	cmd  *exec.Cmd
	addr string
}

func startUpstream(dir string, modules map[string]string) (*upstream, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "use chroot = no\nread only = yes\nlist = yes\nnumeric ids = yes\nlog file = %s\n", filepath.Join(dir, "rsyncd.log"))
	if os.Geteuid() == 0 {
		b.WriteString("uid = 0\ngid = 0\n")
	}
	for name, path := range modules {
		fmt.Fprintf(&b, "[%s]\n\tpath = %s\n", name, path)
	}
	conf := filepath.Join(dir, "rsyncd.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		_, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command("rsync", "--daemon", "--no-detach", "--config="+conf, "--address=127.0.0.1", "--port="+port)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("rsync daemon: %w", err)
		}
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return &upstream{cmd: cmd, addr: addr}, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}
	return nil, fmt.Errorf("rsync daemon did not start")
}

func (u *upstream) url(module string) string { return "rsync://" + u.addr + "/" + module + "/" }

func (u *upstream) stop() {
	syscall.Kill(-u.cmd.Process.Pid, syscall.SIGTERM)
	u.cmd.Wait()
}
