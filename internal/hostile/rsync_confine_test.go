package hostile_test

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

// plantEscapes puts in a module the ways out a hostile tree or client
// tries: symlinks to a file and a directory outside, absolute and
// relative, and a secret beside the module.
func plantEscapes(t *testing.T, data, module string) (secret string) {
	t.Helper()
	secret = "top secret " + strconv.Itoa(os.Getpid())
	testenv.WriteFile(t, filepath.Join(data, "secret.txt"), []byte(secret), syncedAt)
	os.MkdirAll(filepath.Join(data, "private"), 0o755)
	testenv.WriteFile(t, filepath.Join(data, "private/key"), []byte(secret), syncedAt)
	os.Symlink("../secret.txt", filepath.Join(module, "rel-file"))
	os.Symlink(filepath.Join(data, "secret.txt"), filepath.Join(module, "abs-file"))
	os.Symlink("../private", filepath.Join(module, "rel-dir"))
	os.Symlink(filepath.Join(data, "private"), filepath.Join(module, "abs-dir"))
	os.Symlink("/", filepath.Join(module, "root"))
	return secret
}

// tryEscapes pulls with every trick and fails if the secret arrives.
func tryEscapes(t *testing.T, base, secret string) {
	t.Helper()
	for _, args := range [][]string{
		{"-r", base + "/debian/"},
		{"-rL", base + "/debian/"},
		{"-r", "--copy-unsafe-links", base + "/debian/"},
		{"-r", "--copy-dirlinks", base + "/debian/"},
		{base + "/debian/../secret.txt"},
		{base + "/debian/%2e%2e/secret.txt"},
		{"-r", base + "/debian/rel-dir/"},
		{"-r", base + "/debian/abs-dir/"},
		{"-r", base + "/debian/root/etc/hostname"},
		{base + "/debian//" + "secret.txt"},
		{"-r", base + "/debian/./../private/"},
		{"-r", "--relative", base + "/debian/../private/key"},
	} {
		dest := t.TempDir()
		out, _ := exec.Command("rsync", append(args, dest+"/")...).CombinedOutput()
		filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) {
				t.Errorf("rsync %v read %s from outside the module\n%s", args, strings.TrimPrefix(p, dest), out)
			}
			return nil
		})
	}
}

// sessionUIDs lists the uids of the running rsync daemons of a config.
func sessionUIDs(t *testing.T, conf string) []int {
	t.Helper()
	var uids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("--config="+conf)) {
			continue
		}
		status, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "status"))
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
				uid, _ := strconv.Atoi(f[1])
				uids = append(uids, uid)
			}
		}
	}
	return uids
}

// TestRsyncConfinedAndUnprivileged: on a node started as root, every
// rsync session runs as an unprivileged user, chrooted into its module:
// no trick of a hostile client or tree reads outside it. The sessions ran
// as uid 0 (the generated rsyncd.conf said "uid = 0").
func TestRsyncConfinedAndUnprivileged(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	testenv.RequireRoot(t)
	tg, base := rsyncTarget(t, nil)
	secret := plantEscapes(t, tg.cfg.DataDir, tg.deb)
	tryEscapes(t, base, secret)
	// Legitimate symlinks inside the tree still work, as on rsyncd.
	os.Symlink("dists/stable/Release", filepath.Join(tg.deb, "release-link"))
	dest := t.TempDir()
	if out, err := exec.Command("rsync", "-L", base+"/debian/release-link", dest+"/").CombinedOutput(); err != nil {
		t.Errorf("a symlink inside the module: %v\n%s", err, out)
	}
	slowPull(t, base)
	waitSessions(t, tg, 1)
	// The node counts a session when it accepts it, a moment before the
	// rsync process it starts for it is there to look at.
	var uids []int
	for deadline := time.Now().Add(10 * time.Second); len(uids) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no rsync session found")
		}
		uids = sessionUIDs(t, filepath.Join(tg.cfg.StateDir, "rsyncd.conf"))
	}
	for _, uid := range uids {
		if uid == 0 {
			t.Errorf("an rsync session runs as root")
		}
	}
}

// TestRsyncNonRootNode: a node run by an unprivileged user (no capability
// at all) serves rsync, confined by rsync's own path checks. Its
// sessions failed with "@ERROR: setgroups failed": the config asked for
// the node's own uid, which rsync only switches to as root.
func TestRsyncNonRootNode(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	testenv.RequireRoot(t) // to start the node as another user
	testenv.RequireBinary(t, "rsync")
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	bin := testenv.Binary(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	data, state := filepath.Join(dir, "data"), filepath.Join(dir, "state")
	deb := filepath.Join(data, "debian")
	testenv.WriteFile(t, filepath.Join(deb, "dists/stable/Release"), []byte("Origin: Debian\n"), syncedAt)
	secret := plantEscapes(t, data, deb)
	os.MkdirAll(state, 0o755)
	for _, p := range []string{dir, data, state, deb} {
		os.Chown(p, uid, gid)
	}
	os.Chmod(filepath.Join(data, "secret.txt"), 0o644)
	rsyncPort, httpPort := testenv.FreePort(t), testenv.FreePort(t)
	conf := filepath.Join(dir, "node.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`name: test.mm.example.net
sponsor: {name: Example Sponsor, url: https://sponsor.example.com/}
contact: noc@mm.example.net
data_dir: %s
state_dir: %s
listen:
  http: ["127.0.0.1:%d"]
  https: []
  rsync: ["127.0.0.1:%d"]
  admin: []
projects:
  - name: debian
`, data, state, httpPort, rsyncPort)), 0o644)
	cmd := exec.Command(bin, "node", "-config", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", rsyncPort)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not listen:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	base := "rsync://" + addr
	dest := t.TempDir()
	if out, err := exec.Command("rsync", "-r", base+"/debian/dists/", dest+"/").CombinedOutput(); err != nil {
		t.Fatalf("pull from the non-root node: %v\n%s\n%s", err, out, logs.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "stable/Release")); string(b) != "Origin: Debian\n" {
		t.Errorf("pulled %q", b)
	}
	tryEscapes(t, base, secret)
}
