package packaging

// The configuration examples of docs/deploy.md, tried for real: each is a
// fenced block whose info string names its file (```nft /etc/nftables.conf),
// so the page and these tests cannot drift apart.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// docFiles are the blocks of docs/deploy.md by the file they name.
func docFiles(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, m := range regexp.MustCompile("(?ms)^```[a-z]+ (/\\S+)\n(.*?)^```$").FindAllStringSubmatch(string(b), -1) {
		files[m[1]] = m[2]
	}
	for _, want := range []string{"/etc/micromirror/node.yaml", "/etc/micromirror/watchtower.yaml", "/etc/nftables.conf",
		"/etc/ssh/sshd_config.d/10-micromirror.conf", "/etc/apt/apt.conf.d/52micromirror"} {
		if files[want] == "" {
			t.Fatalf("docs/deploy.md has no block for %s (have %d blocks)", want, len(files))
		}
	}
	return files
}

// The node and watchtower configs of the page load with the programs'
// own loaders.
func TestDeployDocConfigs(t *testing.T) {
	files := docFiles(t)
	cfg, err := nodeconfig.Parse("node.yaml", []byte(files["/etc/micromirror/node.yaml"]))
	if err != nil {
		t.Fatalf("the page's node.yaml: %v", err)
	}
	if cfg.Name != "acme.mm.example.net" || len(cfg.Projects) != 1 || cfg.TLS.ACME == nil {
		t.Errorf("the page's node.yaml reads as %+v", cfg)
	}
	// The watchtower's files, in a directory of the test's.
	dir := t.TempDir()
	wt := strings.ReplaceAll(files["/etc/micromirror/watchtower.yaml"], "/etc/micromirror/", dir+"/")
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o755)
	for _, f := range []string{"watchtower-nodes.yaml", "secrets/watchtower.crt", "secrets/watchtower.key"} {
		os.WriteFile(filepath.Join(dir, f), []byte("nodes: []\n"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "watchtower.yaml"), []byte(wt), 0o644)
	w, err := watchtower.LoadConfig(filepath.Join(dir, "watchtower.yaml"))
	if err != nil {
		t.Fatalf("the page's watchtower.yaml: %v", err)
	}
	if !w.IsPostgres() || w.OperatorTokenSHA256 == "" {
		t.Errorf("the page's watchtower.yaml does not name PostgreSQL or an operator: %q", w.DB)
	}
}

// The apt settings parse, and unattended-upgrades reads what it should.
func TestDeployDocAptSettings(t *testing.T) {
	files := docFiles(t)
	testenv.RequireBinary(t, "apt-config")
	p := filepath.Join(t.TempDir(), "52micromirror")
	os.WriteFile(p, []byte(files["/etc/apt/apt.conf.d/52micromirror"]), 0o644)
	out, err := exec.Command("apt-config", "-c", p, "dump").CombinedOutput()
	if err != nil {
		t.Fatalf("apt-config: %v\n%s", err, out)
	}
	for _, want := range []string{`APT::Periodic::Unattended-Upgrade "1";`, `APT::Periodic::Update-Package-Lists "1";`,
		`Unattended-Upgrade::Automatic-Reboot "true";`, `Unattended-Upgrade::Automatic-Reboot-Time "04:30";`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("apt-config does not read %s", want)
		}
	}
}

// The sshd drop-in, first in a real sshd's config as Debian includes it:
// the operator's key logs in, passwords are not even offered.
func TestDeployDocSSHD(t *testing.T) {
	files := docFiles(t)
	testenv.RequireBinary(t, "ssh")
	dropIn := filepath.Join(testenv.PublicTempDir(t), "10-micromirror.conf")
	os.WriteFile(dropIn, []byte(files["/etc/ssh/sshd_config.d/10-micromirror.conf"]), 0o644)
	// The base config says the opposite of the drop-in: the drop-in wins.
	s := testenv.StartSSHD(t, "Include "+dropIn+"\nPasswordAuthentication yes\nKbdInteractiveAuthentication yes\n", "host")
	login := exec.Command("ssh", "-F", s.Config, "-o", "BatchMode=yes", "host", "echo in")
	var stderr strings.Builder
	login.Stderr = &stderr
	if out, err := login.Output(); err != nil || strings.TrimSpace(string(out)) != "in" {
		t.Fatalf("key login: %v %q\n%s", err, out, stderr.String())
	}
	out, err := exec.Command("ssh", "-v", "-F", s.Config, "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
		"-o", "PreferredAuthentications=password,keyboard-interactive", "host", "true").CombinedOutput()
	if err == nil {
		t.Fatal("a login without the key")
	}
	if m := regexp.MustCompile(`Authentications that can continue: (\S+)`).FindSubmatch(out); m == nil || string(m[1]) != "publickey" {
		t.Errorf("the server offers %q, want publickey alone:\n%s", m, out)
	}
}

// The nftables ruleset, loaded in a network namespace of the test's own
// behind a veth pair: from outside, the node's ports and SSH answer over
// IPv4 and IPv6 (so ICMPv6 neighbour discovery passes), everything else
// is dropped; the node's own connections out get their replies.
func TestDeployDocFirewall(t *testing.T) {
	files := docFiles(t)
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "ip")
	nft := testenv.RequireBinary(t, "nft")
	id := os.Getpid() % 10000
	ns, outer, inner := fmt.Sprintf("mmfw%d", id), fmt.Sprintf("mmfwo%d", id), fmt.Sprintf("mmfwi%d", id)
	v4, v6 := fmt.Sprintf("10.254.%d.", id%250), fmt.Sprintf("fd6d:6d%02x::", id%250)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
	t.Cleanup(func() { exec.Command("ip", "link", "del", outer).Run() })
	run("ip", "link", "set", inner, "netns", ns)
	run("ip", "addr", "add", v4+"1/30", "dev", outer)
	run("ip", "addr", "add", v6+"1/64", "dev", outer, "nodad")
	run("ip", "link", "set", outer, "up")
	run("ip", "-n", ns, "addr", "add", v4+"2/30", "dev", inner)
	run("ip", "-n", ns, "addr", "add", v6+"2/64", "dev", inner, "nodad")
	run("ip", "-n", ns, "link", "set", inner, "up")
	run("ip", "-n", ns, "link", "set", "lo", "up")
	rules := filepath.Join(t.TempDir(), "nftables.conf")
	os.WriteFile(rules, []byte(files["/etc/nftables.conf"]), 0o644)
	run("ip", "netns", "exec", ns, nft, "-f", rules)

	open := []int{22, 80, 443, 873}
	closed := []int{9873, 5432, 8080}
	var listeners []net.Listener
	inNetns(t, ns, func() {
		for _, p := range append(append([]int{}, open...), closed...) {
			l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
			if err != nil {
				t.Errorf("listen %d in the namespace: %v", p, err)
				continue
			}
			listeners = append(listeners, l)
		}
	})
	for _, l := range listeners {
		defer l.Close()
		go func(l net.Listener) {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("hello\n"))
				c.Close()
			}
		}(l)
	}
	// The namespace's own connection out gets its reply through the
	// policy drop (ct state established).
	outside, err := net.Listen("tcp", net.JoinHostPort(v4+"1", "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	go func() {
		if c, err := outside.Accept(); err == nil {
			c.Write([]byte("reply\n"))
			c.Close()
		}
	}()

	var wg sync.WaitGroup
	check := func(addr string, want bool) {
		defer wg.Done()
		c, err := net.DialTimeout("tcp", addr, 1500*time.Millisecond)
		if err == nil {
			buf := make([]byte, 6)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err = c.Read(buf)
			c.Close()
		}
		if got := err == nil; got != want {
			t.Errorf("%s: reachable %v, want %v (%v)", addr, got, want, err)
		}
	}
	for _, ip := range []string{v4 + "2", v6 + "2"} {
		for _, p := range open {
			wg.Add(1)
			go check(net.JoinHostPort(ip, fmt.Sprint(p)), true)
		}
		for _, p := range closed {
			wg.Add(1)
			go check(net.JoinHostPort(ip, fmt.Sprint(p)), false)
		}
	}
	wg.Wait()
	inNetns(t, ns, func() {
		c, err := net.DialTimeout("tcp", outside.Addr().String(), 2*time.Second)
		if err != nil {
			t.Errorf("a connection out of the namespace: %v", err)
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 6)
		if _, err := c.Read(buf); err != nil || string(buf) != "reply\n" {
			t.Errorf("the reply to a connection out: %q %v", buf, err)
		}
	})
}

// inNetns runs f on a thread inside the named network namespace; sockets
// it opens stay in the namespace. The thread is never returned to the
// pool: it ends with the goroutine, so no other code runs in the
// namespace by accident.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread exits with the goroutine
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("entering %s: %v", ns, err)
	}
}
