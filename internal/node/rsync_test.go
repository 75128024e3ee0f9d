package node_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/testenv"
)

func TestRsyncServing(t *testing.T) {
	testenv.RequireBinary(t, "rsync")
	cfg := testenv.NodeConfig(t, "debian", "archlinux")
	deb := filepath.Join(cfg.DataDir, "debian")
	blob := bytes.Repeat([]byte("micromirror "), 50000)
	testenv.WriteFile(t, filepath.Join(deb, "pool/main/h/hello_1.0_amd64.deb"), blob, syncedAt)
	testenv.WriteFile(t, filepath.Join(deb, "dists/stable/Release"), []byte("Origin: Debian\n"), syncedAt)
	testenv.WriteFile(t, filepath.Join(deb, ".~tmp~/Packages.xz"), []byte("half"), syncedAt)
	testenv.WriteFile(t, filepath.Join(deb, "pool/.hello_2.0_amd64.deb.aB3dE9"), []byte("part"), syncedAt)
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "secret.txt"), []byte("outside every tree"), syncedAt)
	os.Symlink("../secret.txt", filepath.Join(deb, "escape"))
	n := testenv.StartNode(t, cfg)
	base := "rsync://" + n.RsyncAddrs()[0].String()

	t.Run("list modules", func(t *testing.T) {
		out := testenv.Run(t, "rsync", base+"/")
		for _, want := range []string{"archlinux", "debian", "hosted by Example Sponsor"} {
			if !strings.Contains(out, want) {
				t.Errorf("module list lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("pull tree", func(t *testing.T) {
		dest := t.TempDir()
		testenv.Run(t, "rsync", "-rlt", base+"/debian/", dest+"/")
		got, err := os.ReadFile(filepath.Join(dest, "pool/main/h/hello_1.0_amd64.deb"))
		if err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("pulled file differs: %v", err)
		}
		fi, _ := os.Stat(filepath.Join(dest, "dists/stable/Release"))
		if !fi.ModTime().Equal(syncedAt) {
			t.Errorf("mtime %v, want %v", fi.ModTime(), syncedAt)
		}
		for _, hidden := range []string{".~tmp~", "pool/.hello_2.0_amd64.deb.aB3dE9"} {
			if _, err := os.Stat(filepath.Join(dest, hidden)); err == nil {
				t.Errorf("%s was transferred", hidden)
			}
		}
	})
	t.Run("links never lead outside", func(t *testing.T) {
		dest := t.TempDir()
		// -L asks the daemon to follow links; the chroot keeps it inside.
		exec.Command("rsync", "-rL", base+"/debian/", dest+"/").Run()
		if b, err := os.ReadFile(filepath.Join(dest, "escape")); err == nil && strings.Contains(string(b), "outside") {
			t.Errorf("a symlink leaked a file from outside the tree")
		}
	})
	t.Run("refuse writes", func(t *testing.T) {
		src := t.TempDir()
		testenv.WriteFile(t, filepath.Join(src, "evil.deb"), []byte("x"), time.Time{})
		out, err := exec.Command("rsync", "-r", src+"/", base+"/debian/").CombinedOutput()
		if err == nil {
			t.Fatalf("push succeeded:\n%s", out)
		}
		if !strings.Contains(string(out), "read only") {
			t.Errorf("push refused without saying read only:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(deb, "evil.deb")); err == nil {
			t.Errorf("file was written")
		}
	})
	t.Run("bytes counted per project", func(t *testing.T) {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, s := range n.Traffic().Snapshot() {
				if s.Project == "debian" && s.Bytes["rsync"] >= uint64(len(blob)) && s.Requests["rsync"] >= 1 {
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("rsync traffic not counted: %+v", n.Traffic().Snapshot())
	})
}

func TestRsyncSessionCap(t *testing.T) {
	testenv.RequireBinary(t, "rsync")
	cfg := testenv.NodeConfig(t, "debian")
	cfg.Limits.MaxRsyncSessions = 1
	big := bytes.Repeat([]byte{7}, 8<<20)
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/big.iso"), big, syncedAt)
	n := testenv.StartNode(t, cfg)
	base := "rsync://" + n.RsyncAddrs()[0].String()
	slow := exec.Command("rsync", "--bwlimit=1000", base+"/debian/big.iso", t.TempDir()+"/")
	if err := slow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { slow.Process.Kill(); slow.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for n.RsyncSessions() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		out, err := exec.Command("rsync", base+"/").CombinedOutput()
		if err != nil && strings.Contains(string(out), "max connections (1) reached") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("second session was not refused with a reason while the first ran")
}
