package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/testenv"
	"micromirror/internal/testenv/logbuf"
)

// TestBinarySignals runs the real binary: SIGHUP reloads the config
// without dropping a download; SIGTERM lets the download finish, then the
// process exits 0. The admin interface serves Prometheus metrics.
func TestBinarySignals(t *testing.T) {
	testenv.RequireBinary(t, "curl")
	dir := testenv.PublicTempDir(t) // run as root, the node becomes nobody
	bin := testenv.Binary(t)
	httpPort, adminPort := testenv.FreePort(t), testenv.FreePort(t)
	writeConfig := func(sponsor string) {
		cfg := fmt.Sprintf(`name: sig.mm.example.net
sponsor: {name: %s}
contact: noc@mm.example.net
data_dir: data
state_dir: state
user: nobody
listen: {http: ["127.0.0.1:%d"], https: [], rsync: [], admin: ["127.0.0.1:%d"]}
limits: {shutdown_grace: 20s}
projects: [{name: debian}]
`, sponsor, httpPort, adminPort)
		os.WriteFile(filepath.Join(dir, "node.yaml"), []byte(cfg), 0o644)
	}
	writeConfig("First Sponsor")
	testenv.WriteFile(t, filepath.Join(dir, "data/debian/big.iso"), make([]byte, 3<<20), time.Time{})
	cmd := exec.Command(bin, "node", "-config", filepath.Join(dir, "node.yaml"))
	var logs logbuf.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	for i := 0; i < 100; i++ {
		if _, err := testenv.Curl(t, "-f", "-o", "/dev/null", base+"/"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	out := filepath.Join(dir, "big.iso")
	dl := exec.Command("curl", "-sS", "--limit-rate", "1M", "-o", out, base+"/debian/big.iso")
	dl.Start()
	time.Sleep(300 * time.Millisecond)

	writeConfig("Second Sponsor")
	cmd.Process.Signal(syscall.SIGHUP)
	var page string
	for i := 0; i < 50 && !strings.Contains(page, "Second Sponsor"); i++ {
		time.Sleep(50 * time.Millisecond)
		page, _ = testenv.Curl(t, base+"/")
	}
	if !strings.Contains(page, "Second Sponsor") {
		t.Errorf("SIGHUP did not reload the config\n%s", logs.String())
	}
	metrics, _ := testenv.Curl(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
	if !strings.Contains(metrics, `micromirror_requests_total{project="_other",protocol="http"}`) {
		t.Errorf("admin metrics missing request counters:\n%.500s", metrics)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := dl.Wait(); err != nil {
		t.Errorf("download cut by SIGHUP or SIGTERM: %v", err)
	}
	if fi, _ := os.Stat(out); fi == nil || fi.Size() != 3<<20 {
		t.Errorf("download incomplete")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("did not exit after SIGTERM\n%s", logs.String())
	}
}
