package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/testenv/logbuf"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := (&Main{Stdout: &out, Stderr: &errb}).Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, _ := runCLI(t); code != 2 {
		t.Errorf("no args: %d", code)
	}
	if code, _, stderr := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown: %d %q", code, stderr)
	}
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "micromirror ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "node", "-help"); code != 0 || !strings.Contains(stderr, "-config") {
		t.Errorf("node -help: %d %q", code, stderr)
	}
}

func TestNodeCheck(t *testing.T) {
	code, out, stderr := runCLI(t, "node", "-check", "-config", "../../examples/node.yaml")
	if code != 0 || !strings.Contains(out, "ok (ziply.mm.example.net, 4 projects)") {
		t.Errorf("check example: %d %q %q", code, out, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: x.example.net\nsponsor: {name: S}\ncontact: a@b.c\nlisten: {https: []}\nprojects:\n  - name: debian\n    bwlimit: lots\n"), 0o644)
	code, _, stderr = runCLI(t, "node", "-check", "-config", bad)
	if code != 1 || !strings.Contains(stderr, "bad.yaml:7: projects[0].bwlimit") {
		t.Errorf("check bad: %d %q", code, stderr)
	}
}

// TestRunExampleFromRelativePath starts the node as `make run` does: the
// example config named by a relative path, from the repository root.
func TestRunExampleFromRelativePath(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "examples"), 0o755)
	cfg := "name: rel.mm.example.net\nsponsor: {name: S}\ncontact: noc@mm.example.net\ndata_dir: ../var/mirror\nstate_dir: ../var/state\n" +
		"listen: {http: [\"127.0.0.1:0\"], https: [], rsync: [], admin: []}\nprojects: [{name: debian}]\n"
	os.WriteFile(filepath.Join(dir, "examples/node.yaml"), []byte(cfg), 0o644)
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr logbuf.Buffer
	go func() {
		done <- (&Main{Stdout: io.Discard, Stderr: &stderr}).Run(ctx, []string{"node", "-config", "examples/node.yaml"})
	}()
	sock := filepath.Join(dir, "var/state/admin.sock")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, out, errs := runCLI(t, "node", "status", "-socket", sock); code != 0 || !strings.Contains(out, "debian") {
		t.Errorf("status over the socket: %d %q %q\n%s", code, out, errs, stderr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d\n%s", code, stderr.String())
	}
}

func TestCatalog(t *testing.T) {
	code, out, _ := runCLI(t, "node", "catalog")
	for _, name := range []string{"archlinux", "debian", "ubuntu-releases", "epel-amd64", "fedora-amd64", "kde", "fdroid", "raspbian", "tdf"} {
		if !strings.Contains(out, "\n"+name+" ") {
			t.Errorf("catalog lacks %s", name)
		}
	}
	if code != 0 || !strings.Contains(out, "fedora-epel,fedora") {
		t.Errorf("catalog: %d\n%s", code, out)
	}
}
