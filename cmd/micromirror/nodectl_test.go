package main

import (
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/status"
	"micromirror/internal/syncer"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// TestNodeStatusAndSync drives a running node through its admin socket as
// an operator does: status shows the live progress of a running sync,
// sync triggers one, an unknown project is an error.
func TestNodeStatusAndSync(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	src := t.TempDir()
	up := testenv.StartUpstream(t, map[string]string{"gimp": src})
	big := make([]byte, 6<<20)
	rand.Read(big)
	testenv.WriteFile(t, filepath.Join(src, "gimp-3.0.tar.xz"), big, time.Time{})
	cfg := testenv.NodeConfig(t)
	cfg.Projects = []nodeconfig.Project{{Name: "gimp", Source: up.URL("gimp"), Bwlimit: yamlconf.Bits(16e6)}} // ~3 s
	testenv.StartNode(t, cfg)
	sock := node.AdminSocket(cfg)

	var st []syncer.ProjectStatus
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		code, out, stderr := runCLI(t, "node", "status", "-socket", sock, "-json")
		if code != 0 {
			t.Fatalf("status: %d %s", code, stderr)
		}
		json.Unmarshal([]byte(out), &st)
		if len(st) == 1 && st[0].Progress != nil && st[0].Progress.Bytes > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(st) != 1 || st[0].Progress == nil {
		t.Fatalf("no live progress in status: %+v", st)
	}
	_, out, _ := runCLI(t, "node", "status", "-socket", sock)
	if !strings.Contains(out, "gimp") || !strings.Contains(out, "syncing") || !strings.Contains(out, "stage 1/1") {
		t.Errorf("status table:\n%s", out)
	}
	if !strings.Contains(out, "[#") && !strings.Contains(out, "[.") || !strings.Contains(out, "ETA") {
		t.Errorf("no progress bar:\n%s", out)
	}

	if code, _, stderr := runCLI(t, "node", "sync", "-socket", sock, "nope"); code != 1 || !strings.Contains(stderr, "no such project") {
		t.Errorf("sync of unknown project: %d %q", code, stderr)
	}
	if code, out, _ := runCLI(t, "node", "sync", "-socket", sock, "gimp"); code != 0 || !strings.Contains(out, "sync requested") {
		t.Errorf("sync: %d %q", code, out)
	}
	// The requested run follows the running one.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, out, _ := runCLI(t, "node", "status", "-socket", sock, "-json")
		json.Unmarshal([]byte(out), &st)
		if st[0].Runs >= 2 {
			if st[0].Trigger != "manual" {
				t.Errorf("second run trigger = %q", st[0].Trigger)
			}
			_, table, _ := runCLI(t, "node", "status", "-socket", sock)
			if !strings.Contains(table, "success") || !strings.Contains(table, "ago") {
				t.Errorf("final status table:\n%s", table)
			}
			return
		}
	}
	t.Fatalf("triggered sync did not run: %+v", st)
}

func TestNodeStatusWithoutNode(t *testing.T) {
	code, _, stderr := runCLI(t, "node", "status", "-socket", filepath.Join(t.TempDir(), "none.sock"))
	if code != 1 || !strings.Contains(stderr, "is it running?") {
		t.Errorf("status without a node: %d %q", code, stderr)
	}
}

// TestPrintStatusNextRun: the NEXT RUN column says when the schedule
// comes, or that a trigger is queued behind the run under way.
func TestPrintStatusNextRun(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	st := []syncer.ProjectStatus{
		{Project: status.Project{Name: "debian", State: "syncing"}, Queued: true},
		{Project: status.Project{Name: "gimp", State: "idle", LastSuccess: now.Add(-time.Minute)}, NextRun: now.Add(time.Hour)},
		{Project: status.Project{Name: "kde", State: "syncing"}},
	}
	var b strings.Builder
	printStatus(&b, st, now)
	lines := strings.Split(b.String(), "\n")
	for i, want := range map[int]string{1: "queued", 2: "in 1h", 3: " - "} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want %q in it", i, lines[i], want)
		}
	}
}
