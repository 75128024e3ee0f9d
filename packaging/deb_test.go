// Package packaging_test builds the Debian package and tries it as an
// operator's machine would take it: install, upgrade, remove and purge
// with dpkg on a test root, lintian, and systemd's checks of the units.
package packaging_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/testenv"
)

// backupTimer starts the backup service; verified, it has no sandbox
// of its own to score.
const backupTimer = "micromirror-watchtower-backup.timer"

var units = []string{"micromirror-node.service", "micromirror-watchtower.service", "micromirror-announce.service", "micromirror-watchtower-backup.service", "micromirror-smart.service"}

// build makes the amd64 package of a version into dir.
func build(t *testing.T, dir, version string) string {
	t.Helper()
	cmd := exec.Command("../scripts/deb.sh", "amd64")
	cmd.Env = append(os.Environ(), "VERSION="+version, "OUT="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deb.sh: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// testRoot is an empty system tree dpkg can install into: its own dpkg
// database and account files, nothing else.
func testRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	testenv.DpkgRoot(t, root)
	for _, d := range []string{"etc", "srv"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for name, body := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\nadm:x:4:\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\n", "etc/gshadow": "root:*::\n",
	} {
		os.WriteFile(filepath.Join(root, name), []byte(body), 0o644)
	}
	return root
}

// dpkg runs dpkg on the test root. The maintainer scripts run outside it
// with DPKG_ROOT set (they support that); the test root has none of the
// package's dependencies installed.
func dpkg(t *testing.T, root string, args ...string) string {
	t.Helper()
	all := append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends", "--force-confold"}, args...)
	out, err := exec.Command("dpkg", all...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func ownerOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func uidOf(t *testing.T, root, name string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Split(sc.Text(), ":"); len(fields) > 2 && fields[0] == name {
			uid, _ := strconv.Atoi(fields[2])
			return uid
		}
	}
	t.Fatalf("no user %s in the test root", name)
	return -1
}

// TestDebianPackage: the package installs on a fresh system tree (the
// micromirror user, its directories, units, a node config -check
// accepts), upgrades keeping the operator's config edits, removes keeping
// conffiles, purges the state but not the mirrored trees; lintian finds
// no error and systemd finds the units sound.
func TestDebianPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	testenv.RequireRoot(t) // dpkg on a test root; chroot for the check
	for _, bin := range []string{"dpkg-deb", "dpkg", "lintian", "systemd-analyze"} {
		testenv.RequireBinary(t, bin)
	}
	dir := t.TempDir()
	start := time.Now()
	v1 := build(t, dir, "1.0")
	fi, _ := os.Stat(v1)
	t.Logf("built %s: %.1f MB in %v", filepath.Base(v1), float64(fi.Size())/1e6, time.Since(start).Round(time.Millisecond))

	t.Run("lintian", func(t *testing.T) {
		out, _ := exec.Command("lintian", "--tag-display-limit", "0", v1).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "E: ") {
				t.Errorf("lintian: %s", line)
			}
		}
		t.Logf("lintian:\n%s", out)
	})

	root := testRoot(t)
	start = time.Now()
	dpkg(t, root, "-i", v1)
	t.Logf("installed on a test root in %v", time.Since(start).Round(time.Millisecond))
	uid := uidOf(t, root, "micromirror")
	if uid == 0 {
		t.Fatal("the micromirror user is root")
	}
	for _, d := range []string{"var/lib/micromirror", "var/log/micromirror", "srv/mirror"} {
		if got := ownerOf(t, filepath.Join(root, d)); got != uid {
			t.Errorf("/%s owned by %d, want micromirror (%d)", d, got, uid)
		}
	}
	for _, f := range append([]string{"usr/bin/micromirror", "etc/logrotate.d/micromirror", "etc/micromirror/node.yaml",
		"etc/micromirror/blocklist", "usr/share/man/man1/micromirror.1.gz", "usr/lib/systemd/system/" + backupTimer}, prefixed("usr/lib/systemd/system/", units)...) {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("/%s not installed: %v", f, err)
		}
	}
	if out, err := exec.Command("file", filepath.Join(root, "usr/bin/micromirror")).Output(); err == nil && !strings.Contains(string(out), "statically linked") {
		t.Errorf("the binary is not static: %s", out)
	}
	// The default config passes -check as the installed node would run
	// it: inside the tree, as root, so as the micromirror user.
	if out, err := exec.Command("chroot", root, "/usr/bin/micromirror", "node", "-check", "-config", "/etc/micromirror/node.yaml").CombinedOutput(); err != nil {
		t.Errorf("node -check of the default config: %v\n%s", err, out)
	}

	t.Run("systemd", func(t *testing.T) {
		// verify needs the system's targets and the commands the units
		// name; the test root gets copies.
		sys := filepath.Join(root, "usr/lib/systemd/system")
		targets, _ := filepath.Glob("/usr/lib/systemd/system/*.target")
		for _, tg := range targets {
			if b, err := os.ReadFile(tg); err == nil {
				os.WriteFile(filepath.Join(sys, filepath.Base(tg)), b, 0o644)
			}
		}
		os.MkdirAll(filepath.Join(root, "bin"), 0o755)
		if b, err := os.ReadFile("/bin/kill"); err == nil {
			os.WriteFile(filepath.Join(root, "bin/kill"), b, 0o755)
		}
		if out, err := exec.Command("systemd-analyze", "verify", "--root="+root, backupTimer).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", backupTimer, err, out)
		}
		score := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
		for _, u := range units {
			if out, err := exec.Command("systemd-analyze", "verify", "--root="+root, u).CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
			}
			out, _ := exec.Command("systemd-analyze", "security", "--offline=true", "--root="+root, u).CombinedOutput()
			m := score.FindSubmatch(out)
			if m == nil {
				t.Errorf("no exposure score for %s:\n%s", u, out)
				continue
			}
			t.Logf("systemd-analyze security %s: %s", u, m[1])
			if v, _ := strconv.ParseFloat(string(m[1]), 64); v > 3 {
				t.Errorf("%s: exposure %s, want at most 3 (docs/deploy.md states the scores)", u, m[1])
			}
		}
	})

	// An upgrade keeps the operator's edits of conffiles.
	conf := filepath.Join(root, "etc/micromirror/node.yaml")
	edited := "# edited by the operator\n"
	f, _ := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(edited)
	f.Close()
	v2 := build(t, dir, "1.1")
	dpkg(t, root, "-i", v2)
	if b, _ := os.ReadFile(conf); !strings.HasSuffix(string(b), edited) {
		t.Errorf("the upgrade lost the edit of node.yaml")
	}
	if out := dpkg(t, root, "-s", "micromirror"); !strings.Contains(out, "Version: 1.1") {
		t.Errorf("after the upgrade:\n%s", out)
	}
	if got := uidOf(t, root, "micromirror"); got != uid {
		t.Errorf("the upgrade changed the user: %d, was %d", got, uid)
	}

	// Remove keeps the conffiles; purge takes them, the state and the
	// logs, and leaves the mirrored trees.
	os.WriteFile(filepath.Join(root, "srv/mirror/keep"), []byte("x"), 0o644)
	dpkg(t, root, "-r", "micromirror")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/micromirror")); err == nil {
		t.Error("the binary stayed after remove")
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("remove took the config: %v", err)
	}
	dpkg(t, root, "-P", "micromirror")
	for _, gone := range []string{"etc/micromirror", "var/lib/micromirror", "var/log/micromirror"} {
		if _, err := os.Stat(filepath.Join(root, gone)); err == nil {
			t.Errorf("/%s stayed after purge", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "srv/mirror/keep")); err != nil {
		t.Errorf("purge took the mirrored trees: %v", err)
	}
}

func prefixed(p string, names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, p+n)
	}
	return out
}
