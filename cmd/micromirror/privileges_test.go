package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/testenv"
)

// statusField reads a field of /proc/PID/status.
func statusField(pid int, name string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestRootNodeDropsToItsUser: a node started as root binds its
// privileged-port-capable listeners, then runs as its user with
// CAP_SYS_CHROOT alone: HTTP and rsync still serve (rsync chrooted, as
// that user), and what the node owns is the user's. The node served as
// root, and its rsync sessions ran as uid 0.
func TestRootNodeDropsToItsUser(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "rsync")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	bin := testenv.Binary(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	testenv.WriteFile(t, filepath.Join(dir, "data/debian/dists/stable/Release"), []byte("Origin: Debian\n"), time.Time{})
	httpPort, rsyncPort := testenv.FreePort(t), testenv.FreePort(t)
	conf := filepath.Join(dir, "node.yaml")
	write := func(user string) {
		os.WriteFile(conf, []byte(fmt.Sprintf(`name: root.mm.example.net
sponsor: {name: Root Test}
contact: noc@mm.example.net
data_dir: %[1]s/data
state_dir: %[1]s/state
access_log: %[1]s/state/log/access.log
user: %[2]s
listen: {http: ["127.0.0.1:%[3]d"], https: [], rsync: ["127.0.0.1:%[4]d"], admin: []}
projects: [{name: debian}]
`, dir, user, httpPort, rsyncPort)), 0o644)
	}

	// A user that does not exist: a clear refusal, nothing served.
	write("no-such-user-mm")
	out, err := exec.Command(bin, "node", "-config", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "user no-such-user-mm, which does not exist") {
		t.Fatalf("started as root with a missing user: %v\n%s", err, out)
	}

	write("nobody")
	cmd := exec.Command(bin, "node", "-config", conf)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", rsyncPort)); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			t.Fatalf("the node did not start:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	pid := cmd.Process.Pid
	if uid := strings.Fields(statusField(pid, "Uid")); len(uid) < 4 || uid[0] != nobody.Uid || uid[1] != nobody.Uid || uid[3] != nobody.Uid {
		t.Errorf("node uids %v, want %s", uid, nobody.Uid)
	}
	for _, set := range []string{"CapEff", "CapPrm", "CapAmb"} {
		if v := statusField(pid, set); v != "0000000000040000" {
			t.Errorf("%s %s, want CAP_SYS_CHROOT alone (0000000000040000)", set, v)
		}
	}
	if out, err := testenv.Curl(t, fmt.Sprintf("http://127.0.0.1:%d/debian/dists/stable/Release", httpPort)); err != nil || out != "Origin: Debian\n" {
		t.Errorf("HTTP after the drop: %q %v", out, err)
	}
	dest := t.TempDir()
	if out, err := exec.Command("rsync", "-r", fmt.Sprintf("rsync://127.0.0.1:%d/debian/", rsyncPort), dest+"/").CombinedOutput(); err != nil {
		t.Errorf("rsync after the drop: %v\n%s\n%s", err, out, logs.String())
	}
	for _, p := range []string{"state", "state/rsyncd.conf", "state/admin.sock", "state/log", "data/debian"} {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if owner := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)); owner != nobody.Uid {
			t.Errorf("%s owned by uid %s, want the node's user", p, owner)
		}
	}
}
