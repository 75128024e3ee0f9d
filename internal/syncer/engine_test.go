package syncer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/status"
	"micromirror/internal/syncer"
	"micromirror/internal/testenv"
	"micromirror/internal/testenv/logbuf"
	"micromirror/internal/yamlconf"

	"golang.org/x/sys/unix"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

type rig struct {
	t      *testing.T
	up     *testenv.Upstream
	src    string // upstream tree
	cfg    nodeconfig.Config
	engine *syncer.Engine
	store  *status.Store
	logs   logbuf.Buffer // what the engine logged
}

// newRig starts an upstream daemon with one module "proj" and prepares a
// node config hosting it as project `name` (a catalog name or custom).
func newRig(t *testing.T, name string, tune func(*nodeconfig.Config)) *rig {
	t.Helper()
	r := &rig{t: t, src: t.TempDir()}
	r.up = testenv.StartUpstream(t, map[string]string{"proj": r.src})
	r.cfg = testenv.NodeConfig(t)
	r.cfg.Projects = []nodeconfig.Project{{Name: name, Source: r.up.URL("proj")}}
	r.cfg.Sync.RetryMin = yamlconf.Dur(300 * time.Millisecond)
	r.cfg.Sync.RetryMax = yamlconf.Dur(2 * time.Second)
	r.cfg.Sync.Bwlimit = yamlconf.Bits(2e9)
	if tune != nil {
		tune(&r.cfg)
	}
	if errs := r.cfg.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs[0])
	}
	return r
}

func (r *rig) start() {
	r.t.Helper()
	plans, skipped := syncer.Plans(r.cfg)
	if len(skipped) > 0 {
		r.t.Fatalf("skipped: %v", skipped)
	}
	r.store = status.NewStore(filepath.Join(r.cfg.StateDir, "status"))
	r.engine = syncer.New(syncer.Settings{NodeName: r.cfg.Name, Contact: r.cfg.Contact, Sponsor: r.cfg.Sponsor.Name,
		StateDir: r.cfg.StateDir, Sync: r.cfg.Sync}, plans, r.store, testenv.LoggerTo(r.t, &r.logs))
	// The schedule is a day away; tests trigger runs themselves, except the
	// catch-up run at start for a project never synced.
	r.engine.Open(context.Background())
	r.t.Cleanup(r.engine.Close)
}

func (r *rig) dir() string { return filepath.Join(r.cfg.DataDir, r.cfg.Projects[0].URLPath()) }

func (r *rig) status() syncer.ProjectStatus {
	for _, s := range r.engine.Status() {
		if s.Name == r.cfg.Projects[0].Name {
			return s
		}
	}
	r.t.Fatal("project not in status")
	return syncer.ProjectStatus{}
}

// waitFor polls the status until cond holds.
func (r *rig) waitFor(what string, timeout time.Duration, cond func(syncer.ProjectStatus) bool) syncer.ProjectStatus {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := r.status()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; status %+v", what, s.Project)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runs(n uint64) func(syncer.ProjectStatus) bool {
	return func(s syncer.ProjectStatus) bool { return s.Runs >= n && s.State == status.Idle }
}

func write(t *testing.T, root, rel string, data []byte) {
	testenv.WriteFile(t, filepath.Join(root, rel), data, t0)
}

// rewrite changes a file as an upstream does: new content, new mtime.
func rewrite(t *testing.T, root, rel string, data []byte) {
	testenv.WriteFile(t, filepath.Join(root, rel), data, t0.Add(time.Hour))
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// treeOf lists path -> size:mtime:sha-ish content for comparing trees.
func treeOf(t *testing.T, root string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, s := range skip {
			if strings.HasPrefix(rel, s) {
				return nil
			}
		}
		if d.Type().IsRegular() {
			fi, _ := d.Info()
			b, _ := os.ReadFile(p)
			out[rel] = fmt.Sprintf("%d:%d:%x", fi.Size(), fi.ModTime().Unix(), b[:min(len(b), 16)])
		}
		return nil
	})
	return out
}

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected file %s", k)
		}
	}
}

func TestSyncMirrorsExactly(t *testing.T) {
	r := newRig(t, "videolan", nil)
	write(t, r.src, "vlc/3.0/vlc-3.0.iso", randBytes(300<<10))
	write(t, r.src, "vlc/last/README", []byte("hello"))
	write(t, r.src, ".~tmp~/half", []byte("upstream's own in-flight file"))
	os.Symlink("3.0", filepath.Join(r.src, "vlc/current"))
	r.start() // never synced: catches up at once
	s := r.waitFor("first sync", 30*time.Second, runs(1))
	sameTree(t, treeOf(t, r.dir()), treeOf(t, r.src, ".~tmp~"))
	if l, err := os.Readlink(filepath.Join(r.dir(), "vlc/current")); err != nil || l != "3.0" {
		t.Errorf("symlink not kept: %q %v", l, err)
	}
	if s.LastRun == nil || s.LastRun.BytesReceived < 300<<10 || s.LastRun.FilesTransferred != 2 || s.Trigger != "catch-up" {
		t.Errorf("last run = %+v trigger %q", s.LastRun, s.Trigger)
	}
	if s.LastSuccess.IsZero() || s.LastResult != "success" || s.LastRun.TreeBytes != 300<<10+5+3 { // rsync counts a symlink by its target's length
		t.Errorf("status = %+v, tree %d bytes", s.Project, s.LastRun.TreeBytes)
	}
	log, err := os.ReadFile(filepath.Join(r.cfg.StateDir, "logs/videolan/latest"))
	if err != nil || !strings.Contains(string(log), "stage 1/1: exit 0") || !strings.Contains(string(log), "Number of regular files transferred: 2") {
		t.Errorf("run log: %v\n%s", err, log)
	}

	// A file removed upstream is removed here; a changed one follows.
	os.Remove(filepath.Join(r.src, "vlc/last/README"))
	rewrite(t, r.src, "vlc/3.0/vlc-3.0.iso", randBytes(300<<10))
	r.engine.Trigger("videolan", "manual")
	r.waitFor("second sync", 30*time.Second, runs(2))
	sameTree(t, treeOf(t, r.dir()), treeOf(t, r.src, ".~tmp~"))
}

func TestUnknownProjectTrigger(t *testing.T) {
	r := newRig(t, "videolan", nil)
	r.start()
	if err := r.engine.Trigger("nope", "manual"); err == nil {
		t.Errorf("trigger of an unknown project accepted")
	}
	if got := r.engine.TriggerModule("proj", "mqtt"); len(got) != 1 || got[0] != "videolan" {
		t.Errorf("TriggerModule = %v", got)
	}
}

func TestPacingHoldsTheLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	const size = 64 << 20
	const bits = 100e6 // 12.5 MB/s: 64 MiB in about 5.4 s
	r := newRig(t, "gimp", func(c *nodeconfig.Config) { c.Projects[0].Bwlimit = yamlconf.Bits(bits) })
	write(t, r.src, "gimp-3.0.tar.xz", randBytes(size))
	start := time.Now()
	r.start()
	s := r.waitFor("paced sync", 60*time.Second, runs(1))
	elapsed := time.Since(start).Seconds()
	rate := float64(size) * 8 / elapsed
	t.Logf("%d MiB in %.2f s = %.1f Mbit/s (limit %.0f Mbit/s); recorded rate %.1f Mbit/s",
		size>>20, elapsed, rate/1e6, bits/1e6, s.LastRun.RateBytesPerSec*8/1e6)
	if rate < bits*0.85 || rate > bits*1.15 {
		t.Errorf("rate %.1f Mbit/s outside ±15%% of %.0f Mbit/s", rate/1e6, bits/1e6)
	}
}

func TestTriggersCoalesceIntoOneFollowUp(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	r := newRig(t, "gimp", func(c *nodeconfig.Config) { c.Projects[0].Bwlimit = yamlconf.Bits(20e6) })
	write(t, r.src, "big.bin", randBytes(5<<20)) // about 2 s at 20 Mbit/s
	r.start()
	r.waitFor("run under way", 10*time.Second, func(s syncer.ProjectStatus) bool { return s.State == status.Syncing })
	for range 10 {
		r.engine.Trigger("gimp", "mqtt")
	}
	// Once the follow-up has ended with nothing queued, no third run can
	// come: the schedule is a day away and nothing else triggers.
	s := r.waitFor("follow-up run", 30*time.Second, func(s syncer.ProjectStatus) bool { return s.Runs >= 2 && s.State == status.Idle })
	if s.Runs != 2 || s.Queued {
		t.Errorf("10 triggers during a run gave %d runs (queued: %v), want exactly 2", s.Runs, s.Queued)
	}
}

// flock takes the exclusive lock another process would hold.
func flock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }

func TestOneRunPerProjectAcrossProcesses(t *testing.T) {
	r := newRig(t, "gimp", nil)
	write(t, r.src, "a", []byte("a"))
	// Another process holds the lock: flock is per open file, so a
	// second open in this process stands in for it.
	os.MkdirAll(filepath.Join(r.cfg.StateDir, "locks"), 0o755)
	other, err := os.OpenFile(filepath.Join(r.cfg.StateDir, "locks/gimp.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := flock(other); err != nil {
		t.Fatal(err)
	}
	r.start() // never synced: the catch-up run tries at once
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(r.logs.String(), "skipped: another process is syncing"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the catch-up run never met the other process's lock")
		}
	}
	if s := r.status(); s.Runs != 0 || s.LastAttempt != (time.Time{}) {
		t.Fatalf("ran while another process held the lock: %+v", s.Project)
	}
	other.Close() // releases the lock
	r.engine.Trigger("gimp", "manual")
	r.waitFor("run after release", 20*time.Second, runs(1))
}

func TestNodeWideConcurrencyCap(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	srcA, srcB := t.TempDir(), t.TempDir()
	up := testenv.StartUpstream(t, map[string]string{"a": srcA, "b": srcB})
	write(t, srcA, "big", randBytes(3<<20))
	write(t, srcB, "big", randBytes(3<<20))
	cfg := testenv.NodeConfig(t)
	cfg.Sync.MaxConcurrent = 1
	cfg.Sync.Bwlimit = yamlconf.Bits(16e6) // ~1.5 s each
	cfg.Projects = []nodeconfig.Project{{Name: "a", Source: up.URL("a")}, {Name: "b", Source: up.URL("b")}}
	plans, _ := syncer.Plans(cfg)
	e := syncer.New(syncer.Settings{NodeName: cfg.Name, StateDir: cfg.StateDir, Sync: cfg.Sync}, plans,
		status.NewStore(filepath.Join(cfg.StateDir, "status")), testenv.Logger(t))
	e.Open(context.Background())
	defer e.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		syncing, done := 0, 0
		for _, s := range e.Status() {
			if s.State == status.Syncing {
				syncing++
			}
			if s.Runs > 0 {
				done++
			}
		}
		if syncing > 1 {
			t.Fatalf("%d runs at once with max_concurrent 1", syncing)
		}
		if done == 2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("both projects did not sync")
}

func TestKilledUpstreamLeavesTreeWholeThenRetrySucceeds(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	r := newRig(t, "gimp", func(c *nodeconfig.Config) { c.Projects[0].Bwlimit = yamlconf.Bits(40e6) })
	write(t, r.src, "index.html", []byte("version 1"))
	write(t, r.src, "old.tar", randBytes(64<<10))
	r.start()
	r.waitFor("first sync", 20*time.Second, runs(1))
	v1 := treeOf(t, r.dir())

	rewrite(t, r.src, "index.html", []byte("version 2"))
	write(t, r.src, "new-big.iso", randBytes(16<<20)) // ~3.4 s at 40 Mbit/s
	os.Remove(filepath.Join(r.src, "old.tar"))
	r.engine.Trigger("gimp", "mqtt")
	r.waitFor("transfer under way", 10*time.Second, func(s syncer.ProjectStatus) bool {
		return s.Progress != nil && s.Progress.Bytes > 1<<20
	})
	r.up.Stop()
	r.waitFor("transient failure", 20*time.Second, func(s syncer.ProjectStatus) bool { return s.State == status.Failed })
	if s := r.status(); s.LastResult != "transient" {
		t.Errorf("result = %q, want transient", s.LastResult)
	}
	sameTree(t, treeOf(t, r.dir()), v1) // nothing half-done is visible
	r.up.Restart()
	r.waitFor("retry succeeds", 30*time.Second, runs(2))
	sameTree(t, treeOf(t, r.dir()), treeOf(t, r.src))
}

func TestStalledTransferIsKilledAndRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	r := newRig(t, "gimp", func(c *nodeconfig.Config) {
		c.Projects[0].Bwlimit = yamlconf.Bits(40e6)
		c.Sync.StallTimeout = yamlconf.Dur(1500 * time.Millisecond)
	})
	write(t, r.src, "big.iso", randBytes(16<<20))
	r.start()
	r.waitFor("transfer under way", 10*time.Second, func(s syncer.ProjectStatus) bool {
		return s.Progress != nil && s.Progress.Bytes > 1<<20
	})
	r.up.Freeze()
	s := r.waitFor("stall detected", 20*time.Second, func(s syncer.ProjectStatus) bool { return s.State == status.Failed })
	r.up.Thaw()
	if !strings.Contains(s.LastError, "stalled") || s.LastResult != "transient" {
		t.Errorf("stall reported as %q / %q", s.LastResult, s.LastError)
	}
	r.waitFor("retry succeeds", 40*time.Second, runs(1))
	sameTree(t, treeOf(t, r.dir()), treeOf(t, r.src))
}

func TestDeletionGuardRefusesTruncatedUpstream(t *testing.T) {
	r := newRig(t, "gimp", nil)
	for i := range 100 {
		write(t, r.src, fmt.Sprintf("pool/pkg-%03d.tar", i), []byte{byte(i)})
	}
	r.start()
	r.waitFor("first sync", 20*time.Second, runs(1))
	before := treeOf(t, r.dir())
	for i := 5; i < 100; i++ { // the upstream lost most of its files
		os.Remove(filepath.Join(r.src, fmt.Sprintf("pool/pkg-%03d.tar", i)))
	}
	r.engine.Trigger("gimp", "mqtt")
	s := r.waitFor("refusal", 20*time.Second, func(s syncer.ProjectStatus) bool { return s.State == status.Refused })
	// Without a dry run, rsync's own cap stops the run at 10 deletions;
	// those are put back.
	if !strings.Contains(s.LastError, "rsync stopped deleting at 10 entries") || !strings.Contains(s.LastError, "the 10 it deleted are back") || s.Refusals != 1 {
		t.Errorf("refusal = %q (%d)", s.LastError, s.Refusals)
	}
	sameTree(t, treeOf(t, r.dir()), before)

	// An empty upstream is refused too.
	os.RemoveAll(filepath.Join(r.src, "pool"))
	r.engine.Trigger("gimp", "mqtt")
	r.waitFor("second refusal", 20*time.Second, func(s syncer.ProjectStatus) bool { return s.Refusals == 2 })
	sameTree(t, treeOf(t, r.dir()), before)

	// The operator can force a run they know is right.
	r.engine.Trigger("gimp", "force")
	r.waitFor("forced run", 20*time.Second, runs(2))
	if got := len(treeOf(t, r.dir())); got != 0 {
		t.Errorf("after forced run %d files remain", got)
	}
}

func TestDiskReserveGuard(t *testing.T) {
	r := newRig(t, "gimp", func(c *nodeconfig.Config) { c.Sync.ReservePercent = 99.999 })
	write(t, r.src, "x.iso", randBytes(1<<20))
	r.start()
	s := r.waitFor("refusal", 20*time.Second, func(s syncer.ProjectStatus) bool { return s.State == status.Refused })
	if !strings.Contains(s.LastError, "not enough disk") {
		t.Errorf("refusal = %q", s.LastError)
	}
	if _, err := os.Stat(filepath.Join(r.dir(), "x.iso")); err == nil {
		t.Errorf("file transferred despite the refusal")
	}
}

func TestArchMarkers(t *testing.T) {
	r := newRig(t, "archlinux", nil)
	write(t, r.src, "lastupdate", []byte("1000\n"))
	write(t, r.src, "lastsync", []byte("1001\n"))
	write(t, r.src, "core/os/x86_64/core.db", []byte("db v1"))
	r.start()
	r.waitFor("first sync", 20*time.Second, runs(1))

	// lastupdate unchanged: the full run is skipped, but lastsync, which
	// the upstream rewrites at each of its own syncs, is still pulled.
	write(t, r.src, "lastsync", []byte("2002\n")) // same size and mtime: only -I sees it
	rewrite(t, r.src, "core/os/x86_64/core.db", []byte("db v2 (not announced)"))
	r.engine.Trigger("archlinux", "schedule")
	s := r.waitFor("check", 20*time.Second, func(s syncer.ProjectStatus) bool { return s.Checks == 1 && s.State == status.Idle })
	if s.Runs != 1 || s.LastResult != "unchanged" {
		t.Errorf("status after check: %+v", s.Project)
	}
	if b, _ := os.ReadFile(filepath.Join(r.dir(), "lastsync")); string(b) != "2002\n" {
		t.Errorf("lastsync = %q, want the upstream's 2002", b)
	}
	if b, _ := os.ReadFile(filepath.Join(r.dir(), "core/os/x86_64/core.db")); string(b) != "db v1" {
		t.Errorf("skipped run changed the tree")
	}
	// lastupdate changed: full run.
	write(t, r.src, "lastupdate", []byte("3000\n"))
	r.engine.Trigger("archlinux", "mqtt")
	if st := r.waitFor("full run", 20*time.Second, runs(2)); st.LastRun.Serial != "3000" {
		t.Errorf("run's upstream serial = %q, want lastupdate's 3000", st.LastRun.Serial)
	}
	if b, _ := os.ReadFile(filepath.Join(r.dir(), "core/os/x86_64/core.db")); string(b) != "db v2 (not announced)" {
		t.Errorf("full run did not sync")
	}
	fi, _ := os.Stat(filepath.Join(r.dir(), "lastsync"))
	if !fi.ModTime().Equal(t0) {
		t.Errorf("lastsync mtime %v: the node must copy it, never write it", fi.ModTime())
	}
}

// TestCrashRecovery: a node that stopped during a run finds, once its
// engine has started (Start recovers before it returns), the status
// marked interrupted and rsync's leftover half-files gone, the tree
// otherwise as it was. The test accepted a status still "syncing" before.
func TestCrashRecovery(t *testing.T) {
	r := newRig(t, "gimp", nil)
	write(t, r.src, "a", []byte("a"))
	store := status.NewStore(filepath.Join(r.cfg.StateDir, "status"))
	store.Save(status.Project{Name: "gimp", State: status.Syncing, LastSuccess: time.Now()})
	write(t, r.dir(), "sub/.~tmp~/half.iso", []byte("half"))
	write(t, r.dir(), "kept", []byte("kept"))
	r.cfg.Sync.Schedule = yamlconf.Dur(24 * time.Hour) // and a recent success: no run starts
	r.start()
	if _, err := os.Stat(filepath.Join(r.dir(), "sub/.~tmp~")); !os.IsNotExist(err) {
		t.Errorf("leftover .~tmp~ not removed: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(r.dir(), "kept")); err != nil || string(b) != "kept" {
		t.Errorf("recovery touched the tree: %q, %v", b, err)
	}
	st, err := store.Load("gimp")
	if err != nil || st.State != status.Interrupted || st.LastResult != "interrupted" ||
		!strings.Contains(st.LastError, "stopped during the run") || st.Runs != 0 {
		t.Errorf("status after restart = %+v, %v; want interrupted, no run", st, err)
	}
}

// TestTwoStageAptNeverBreaks: apt-get update and downloads in a loop
// see no error during a two-stage sync, a full one and one by the change
// journal (packages, then indices, then deletions, each a pass).
func TestTwoStageAptNeverBreaks(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	t.Run("full", func(t *testing.T) { twoStageAptNeverBreaks(t, false) })
	t.Run("journal", func(t *testing.T) { twoStageAptNeverBreaks(t, true) })
}

func twoStageAptNeverBreaks(t *testing.T, journalled bool) {
	testenv.RequireBinary(t, "apt-get")
	r := newRig(t, "debian", func(c *nodeconfig.Config) { c.Projects[0].Bwlimit = yamlconf.Bits(4e6) })
	testenv.BuildDebianRepo(t, r.src, "1.0", "hello", "world")
	write(t, r.src, "project/trace/master", []byte("v1"))
	var a *announcer
	if journalled {
		a = startAnnouncer(t, r.src, "project/trace/master")
	}
	r.start()
	r.waitFor("first sync", 60*time.Second, runs(1))
	trace, err := os.ReadFile(filepath.Join(r.dir(), "project/trace", r.cfg.Name))
	if err != nil || !strings.Contains(string(trace), "Running on host: "+r.cfg.Name) {
		t.Fatalf("trace file: %v\n%s", err, trace)
	}

	// Version 2 of the archive: new packages (about 2 MiB, so stage one
	// takes seconds at 4 Mbit/s) and new indices that name them; the
	// new packages sort after the deleted ones, so a deletion made before
	// the new packages land stays visible for seconds.
	for i := range 4 {
		write(t, r.src, fmt.Sprintf("pool/main/z/big%d/big%d_2.0_amd64.deb", i, i), randBytes(512<<10))
	}
	os.RemoveAll(filepath.Join(r.src, "pool/main/h"))
	// HTTP dates have one-second granularity: a Release rewritten within
	// the same second looks unmodified to apt's If-Modified-Since.
	time.Sleep(1100 * time.Millisecond)
	testenv.BuildDebianRepo(t, r.src, "2.0", "hello", "world")
	rewrite(t, r.src, "project/trace/master", []byte("v2"))

	if journalled {
		a.serial(2)
	}
	n := testenv.StartNode(t, r.cfg)
	apt := testenv.NewApt(t, "deb [trusted=yes] "+testenv.URL("http", n.HTTPAddrs()[0])+"/debian stable main")
	r.engine.Trigger("debian", "mqtt")
	loops := 0
	for s := r.status(); s.Runs < 2; s = r.status() {
		if s.State == status.Failed || s.State == status.Refused {
			t.Fatalf("sync did not complete: %+v", s.Project)
		}
		out, err := apt.Run("update")
		if err != nil || strings.Contains(out, "Err:") || strings.Contains(out, "W:") {
			t.Fatalf("apt-get update failed during the sync:\n%s", out)
		}
		// apt-get download skips what it already has: fetch afresh.
		debs, _ := filepath.Glob(filepath.Join(apt.WorkDir(), "*.deb"))
		for _, d := range debs {
			os.Remove(d)
		}
		out, err = apt.Run("download", "hello", "world")
		if err != nil {
			// A client whose index came before the second stage's switch
			// may find what it names deleted since, as from any mirror.
			// The index of the moment must never name a missing file: a
			// fresh update, then the download, must work.
			t.Logf("a download failed across the switch; updating afresh:\n%s", out)
			if out, err := apt.Run("update"); err != nil || strings.Contains(out, "Err:") {
				t.Fatalf("apt-get update failed during the sync:\n%s", out)
			}
			if out, err := apt.Run("download", "hello", "world"); err != nil {
				t.Fatalf("apt-get download failed during the sync, with the index of the moment:\n%s", out)
			}
		}
		loops++
	}
	t.Logf("%d apt update+download loops during the two-stage sync", loops)
	if loops < 2 {
		t.Errorf("the sync was too fast to test anything (%d loops)", loops)
	}
	if out, err := apt.Run("update"); err != nil {
		t.Fatalf("apt-get update after the sync: %v\n%s", err, out)
	}
	if out, err := apt.Run("download", "hello"); err != nil {
		t.Fatalf("apt-get download after the sync: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(apt.WorkDir(), "hello_2.0_amd64.deb")); err != nil {
		t.Errorf("version 2.0 not downloaded after the sync: %v", err)
	}
	// The deleting pass kept our trace file, and the upstream's master trace came.
	if _, err := os.Stat(filepath.Join(r.dir(), "project/trace", r.cfg.Name)); err != nil {
		t.Errorf("trace file deleted by the sync: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(r.dir(), "project/trace/master")); !bytes.Equal(b, []byte("v2")) {
		t.Errorf("master trace = %q", b)
	}
	if want := map[bool]string{false: "full", true: "journal"}[journalled]; r.status().LastRun.Kind != want {
		t.Errorf("the run was a %q one, want %q", r.status().LastRun.Kind, want)
	}
	r.sameAsUpstream(filepath.Join("project/trace", r.cfg.Name))
}

// TestDeletionCapHoldsDuringTheRun: the deletion guard's share is
// enforced by rsync itself in each deleting stage (--max-delete), and
// rsync stopping there (exit 25) is a refusal, and what it deleted until
// then is put back. An upstream truncated during the run (stages are
// hours apart in a two-stage apt sync) was mirrored in full once: 22 of
// 39 entries deleted, with a 10% limit.
func TestDeletionCapHoldsDuringTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	r := newRig(t, "debian", func(c *nodeconfig.Config) { c.Projects[0].Bwlimit = yamlconf.Bits(4e6) })
	for i := range 38 {
		write(t, r.src, fmt.Sprintf("pool/main/p/pkg-%02d.deb", i), []byte{byte(i)})
	}
	write(t, r.src, "dists/stable/Release", []byte("v1"))
	r.start()
	r.waitFor("first sync", 30*time.Second, runs(1))
	// A new package of 2 MiB keeps stage one busy for seconds at 4 Mbit/s.
	write(t, r.src, "pool/main/b/big.deb", randBytes(2<<20))
	r.engine.Trigger("debian", "mqtt")
	r.waitFor("stage one", 30*time.Second, func(s syncer.ProjectStatus) bool { return s.Stage == "stage 1/2" })
	for i := range 22 { // the upstream loses files after the dry run
		os.Remove(filepath.Join(r.src, fmt.Sprintf("pool/main/p/pkg-%02d.deb", i)))
	}
	s := r.waitFor("refusal", 60*time.Second, func(s syncer.ProjectStatus) bool {
		return s.State == status.Refused || s.State == status.Idle && s.Runs >= 2
	})
	if s.State != status.Refused || !strings.Contains(s.LastError, "rsync stopped deleting") {
		t.Fatalf("state %s: %q", s.State, s.LastError)
	}
	left := 0
	for i := range 22 {
		if _, err := os.Stat(filepath.Join(r.dir(), fmt.Sprintf("pool/main/p/pkg-%02d.deb", i))); err == nil {
			left++
		}
	}
	if deleted := 22 - left; deleted != 0 {
		t.Errorf("%d of the 39 entries deleted by a refused run: what it deleted up to the cap must be back", deleted)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(r.dir()), ".~tmp~", "set-aside-"+filepath.Base(r.dir()))); err == nil {
		t.Error("the set-aside directory outlived the refusal")
	}
}

// TestForceNotLostBehindPending: a forced run asked for while an ordinary
// one is pending takes its place, so the run that follows is forced (it
// skips the guards, as the operator meant). It silently became the
// ordinary run, while the API answered 202 "force".
func TestForceNotLostBehindPending(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	r := newRig(t, "gimp", func(c *nodeconfig.Config) { c.Projects[0].Bwlimit = yamlconf.Bits(4e6) })
	for i := range 100 {
		write(t, r.src, fmt.Sprintf("pool/pkg-%03d.tar", i), []byte{byte(i)})
	}
	r.start()
	r.waitFor("first sync", 30*time.Second, runs(1))
	write(t, r.src, "big.iso", randBytes(2<<20)) // about 4 s at 4 Mbit/s
	r.engine.Trigger("gimp", "manual")
	r.waitFor("a run", 30*time.Second, func(s syncer.ProjectStatus) bool { return s.State == status.Syncing && s.Stage == "stage 1/1" })
	for i := 5; i < 100; i++ { // truncated: only a forced run deletes this much
		os.Remove(filepath.Join(r.src, fmt.Sprintf("pool/pkg-%03d.tar", i)))
	}
	r.engine.Trigger("gimp", "mqtt")  // pending behind the run
	r.engine.Trigger("gimp", "force") // the operator's
	// The running one is refused or done; the next is the forced one.
	s := r.waitFor("the next run", 60*time.Second, func(s syncer.ProjectStatus) bool {
		return s.Trigger != "manual" && s.State != status.Syncing
	})
	if s.Trigger != "force" || s.State != status.Idle {
		t.Fatalf("after the running one came a %q run: %s %q", s.Trigger, s.State, s.LastError)
	}
}

// TestDiskReserveHoldsDuringTheRun: the reserve is watched while a stage
// transfers, not only checked before it. On a 24 MiB tmpfs with a 50%
// reserve, a 16 MiB file fits at the start and not by the end: the stage
// is stopped at the reserve, the run refused, and nothing of the file
// stays in the tree or its staging directory.
func TestDiskReserveHoldsDuringTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	testenv.RequireRoot(t)
	disk := testenv.PublicTempDir(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m,mode=0777", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	r := newRig(t, "gimp", func(c *nodeconfig.Config) {
		c.DataDir = disk
		c.Sync.ReservePercent = 50
		c.Projects[0].Bwlimit = yamlconf.Bits(40e6)
	})
	write(t, r.src, "big.iso", randBytes(16<<20))
	r.start()
	s := r.waitFor("refusal", 60*time.Second, func(s syncer.ProjectStatus) bool { return s.State == status.Refused })
	if !strings.Contains(s.LastError, "during the run") {
		t.Errorf("refusal = %q", s.LastError)
	}
	var left []string
	filepath.WalkDir(disk, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("left on the disk: %v", left)
	}
}

// TestSetAsideGoesAfterASuccess: what a deleting stage set aside (old
// versions, deleted files) goes once the run stands, off the run's path
// but before Close returns; one a crash left half-discarded goes at start.
func TestSetAsideGoesAfterASuccess(t *testing.T) {
	r := newRig(t, "videolan", nil)
	for i := range 20 {
		write(t, r.src, fmt.Sprintf("f%02d", i), []byte("v1"))
	}
	aside := filepath.Join(filepath.Dir(r.dir()), ".~tmp~")
	write(t, aside, "set-aside-"+filepath.Base(r.dir())+".discard-1/old", []byte("a crash's leftover"))
	r.start()
	r.waitFor("first sync", 30*time.Second, runs(1))
	rewrite(t, r.src, "f01", []byte("v2"))
	os.Remove(filepath.Join(r.src, "f02"))
	if s := r.runOnce("mqtt"); s.LastRun.FilesDeleted != 1 {
		t.Fatalf("run: %+v", s.LastRun)
	}
	r.engine.Close()
	if left, _ := os.ReadDir(aside); len(left) != 0 {
		t.Errorf("left beside the tree: %v", left)
	}
}

// TestStatusNamesTriggers: a project's status names the modules that
// trigger it, the config's own when it sets them (the watchtower measures
// the project's lag against these, from the node's telemetry).
func TestStatusNamesTriggers(t *testing.T) {
	r := newRig(t, "gimp", func(c *nodeconfig.Config) { c.Projects[0].Triggers = []string{"gimp-own", "gimp"} })
	r.start()
	if got := r.engine.Status()[0].Triggers; strings.Join(got, ",") != "gimp-own,gimp" {
		t.Errorf("triggers in the status = %v", got)
	}
}
