package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SSHD is a real OpenSSH server of a test's, on a loopback port.
type SSHD struct {
	// Config is an ssh_config file that reaches the server as each alias
	// given, logged in as root with the test's key.
	Config string
	Port   int
	Dir    string // its keys and files
}

// StartSSHD runs sshd from a config and keys of the test's own. first is
// put at the head of its sshd_config (sshd takes the first value of a
// setting): a drop-in under test.
func StartSSHD(t *testing.T, first string, aliases ...string) *SSHD {
	t.Helper()
	RequireRoot(t) // sshd logs in as root here; the test's own dirs alone are touched
	sshd := RequireBinary(t, "/usr/sbin/sshd")
	RequireBinary(t, "ssh-keygen")
	dir := PublicTempDir(t)
	for _, k := range []string{"host", "client"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	os.MkdirAll("/run/sshd", 0o755) // the privilege separation directory sshd insists on, as its package makes it
	port := FreePort(t)
	conf := filepath.Join(dir, "sshd_config")
	os.WriteFile(conf, []byte(first+fmt.Sprintf(`
Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
`, port, dir)), 0o644)
	if out, err := exec.Command(sshd, "-t", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("sshd did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var cfg strings.Builder
	for _, a := range aliases {
		fmt.Fprintf(&cfg, "Host %s\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s/client\n  IdentitiesOnly yes\n"+
			"  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking accept-new\n", a, port, dir, dir)
	}
	p := filepath.Join(dir, "ssh_config")
	os.WriteFile(p, []byte(cfg.String()), 0o600)
	return &SSHD{Config: p, Port: port, Dir: dir}
}
