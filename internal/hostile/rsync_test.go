package hostile_test

import (
	"bytes"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// rsyncTarget is a node with rsync serving and a large file to pull
// slowly.
func rsyncTarget(t *testing.T, tune func(*nodeconfig.Config)) (*target, string) {
	t.Helper()
	testenv.RequireBinary(t, "rsync")
	tg := startTarget(t, tune)
	testenv.WriteFile(t, filepath.Join(tg.deb, "big.iso"), bytes.Repeat([]byte("r"), 8<<20), syncedAt)
	return tg, "rsync://" + tg.n.RsyncAddrs()[0].String()
}

// slowPull starts an rsync client pulling the large file at 10 KB/s.
func slowPull(t *testing.T, base string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("rsync", "--bwlimit=10", base+"/debian/big.iso", t.TempDir()+"/")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func waitSessions(t *testing.T, tg *target, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tg.n.RsyncSessions() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d rsync sessions, want %d", tg.n.RsyncSessions(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRsyncSilentClientsHoldNothing: connections that send nothing hold
// no session: they are dropped after a short handshake timeout, and each
// client address has a cap of its own. Five silent connections from one
// client held every session of a node with max_rsync_sessions 5, and
// real clients got "max connections reached".
func TestRsyncSilentClientsHoldNothing(t *testing.T) {
	tg, base := rsyncTarget(t, func(c *nodeconfig.Config) {
		c.Limits.MaxRsyncSessions = 5
		c.Limits.HeaderTimeout = yamlconf.Dur(time.Second)
	})
	addr := tg.n.RsyncAddrs()[0].String()
	// The silent client is 127.0.0.2; the real ones 127.0.0.1.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	var silent []net.Conn
	for range 6 {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	time.Sleep(200 * time.Millisecond)
	for i := range 3 {
		out, err := exec.Command("rsync", base+"/").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "debian") {
			t.Fatalf("module list %d beside 6 silent connections: %v\n%s", i, err, out)
		}
	}
	// Past the handshake timeout the node has closed them all: each
	// read ends (the refused one with its reason).
	for i, c := range silent {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Errorf("silent connection %d still open after the handshake timeout: %v", i, err)
		}
		if len(b) > 0 && !strings.Contains(string(b), "too many connections from your address") {
			t.Errorf("silent connection %d got %q", i, b)
		}
	}
}

// TestRsyncCapRefusesAndRecovers: past max_rsync_sessions a client is
// told so in words, and once sessions end the slots are free again. The
// next client got a protocol error instead, and clients kept failing
// after all the sessions had ended.
func TestRsyncCapRefusesAndRecovers(t *testing.T) {
	tg, base := rsyncTarget(t, func(c *nodeconfig.Config) { c.Limits.MaxRsyncSessions = 2 })
	a, b := slowPull(t, base), slowPull(t, base)
	waitSessions(t, tg, 2)
	out, err := exec.Command("rsync", base+"/").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "max connections (2) reached") {
		t.Errorf("third client: %v\n%s", err, out)
	}
	a.Process.Kill()
	b.Process.Kill()
	a.Wait()
	b.Wait()
	waitSessions(t, tg, 0)
	for i := range 3 {
		out, err := exec.Command("rsync", base+"/").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "debian") {
			t.Fatalf("client %d after the sessions ended: %v\n%s", i, err, out)
		}
	}
}
