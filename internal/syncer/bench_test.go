package syncer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/announce"
	"micromirror/internal/announcement"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/status"
	"micromirror/internal/syncer"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// BenchmarkSyncAgainstBareRsync: what a node's sync costs against a bare
// rsync of the same tree from the same daemon, in the same run: wall time
// and the upstream's CPU (the daemon's sessions), for an unchanged tree
// and for 1% of the files changed, for a node without a change journal,
// one reading the journal of a real announcer watching the tree and one
// reading a quick-fedora-mirror file list the upstream rewrites after
// each change.
// Then one file changed at a time: the journal node's time from the
// announcement to the new file in its tree. SYNC_FILES sets the tree's
// size (default 300,000 files in 300 directories); ROUNDS the rounds
// whose medians are reported (default 3). The nodes run with every guard
// on; bare rsync is `rsync -rlptH --safe-links --delay-updates
// --delete-delay`, what a mirror script runs.
func BenchmarkSyncAgainstBareRsync(b *testing.B) {
	testenv.RequireBinary(b, "rsync")
	files := envInt("SYNC_FILES", 300000)
	rounds := envInt("ROUNDS", 3)
	src := b.TempDir()
	for d := 0; d < 300; d++ {
		dir := filepath.Join(src, fmt.Sprintf("d%03d", d))
		os.MkdirAll(dir, 0o755)
		for i := d; i < files; i += 300 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
		}
	}
	up := testenv.StartUpstream(b, map[string]string{"proj": src})
	ann := &benchAnnouncer{}
	actx, acancel := context.WithCancel(context.Background())
	defer acancel()
	go announce.NewAnnouncer(announce.Config{Upstream: "up", Poll: yamlconf.Dur(50 * time.Millisecond), Quiet: yamlconf.Dur(200 * time.Millisecond),
		Modules: []announce.Module{{Name: "proj", Path: src}}}, ann, testenv.Logger(b)).Run(actx)
	ann.waitPast(0)
	bare := b.TempDir()
	writeFileList(b, src, benchList)
	plain, journalled, listed := benchNode(b, up, false, ""), benchNode(b, up, true, ""), benchNode(b, up, false, benchList)
	// Each run starts with the disk flushed, so none pays for the
	// write-back of the change or of the run before it.
	bareRun := func() (time.Duration, time.Duration) {
		syscall.Sync()
		cpu0, t0 := up.ChildCPU(), time.Now()
		out, err := exec.Command("rsync", "-rlptH", "--safe-links", "--delay-updates", "--delete-delay", "--exclude=/.micromirror/", up.URL("proj"), bare+"/").CombinedOutput()
		if err != nil {
			b.Fatalf("bare rsync: %v\n%s", err, out)
		}
		wall := time.Since(t0)
		time.Sleep(50 * time.Millisecond) // the daemon reaps its child
		return wall, up.ChildCPU() - cpu0
	}
	bareRun() // the first copy
	nodeRun := func(n *benchEngine) func() (time.Duration, time.Duration) {
		return func() (time.Duration, time.Duration) {
			syscall.Sync()
			cpu0, t0 := up.ChildCPU(), time.Now()
			n.run(b)
			wall := time.Since(t0)
			time.Sleep(50 * time.Millisecond)
			return wall, up.ChildCPU() - cpu0
		}
	}
	change := func(round int) {
		serial := ann.serial()
		for i := 0; i < files; i += 100 {
			p := filepath.Join(src, fmt.Sprintf("d%03d", i%300), fmt.Sprintf("f%06d", i))
			os.WriteFile(p, []byte(fmt.Sprintf("file %d, round %d\n", i, round)), 0o644)
			os.Chtimes(p, time.Now(), time.Now().Add(time.Duration(round)*time.Second))
		}
		ann.waitPast(serial) // the journal lists the change
		writeFileList(b, src, benchList)
	}
	for b.Loop() {
		for _, c := range []string{"unchanged", "1% changed"} {
			var w, cpu [4][]float64 // plain node, journal node, file-list node, bare
			for r := 0; r < rounds; r++ {
				if c != "unchanged" {
					change(r + 1)
				}
				// Alternate who goes first, so neither always meets a
				// warm or a cold page cache.
				order := []int{0, 3, 1, 2}
				if r%2 == 1 {
					order = []int{3, 0, 1, 2}
				}
				runs := [4]func() (time.Duration, time.Duration){nodeRun(plain), nodeRun(journalled), nodeRun(listed), bareRun}
				for _, k := range order {
					wk, ck := runs[k]()
					w[k], cpu[k] = append(w[k], wk.Seconds()), append(cpu[k], ck.Seconds())
				}
			}
			key := map[string]string{"unchanged": "unchanged", "1% changed": "changed1pct"}[c]
			for k, name := range []string{"node", "journal", "filelist", "bare"} {
				b.ReportMetric(median(w[k]), "s-"+name+"-wall-"+key)
				b.ReportMetric(median(cpu[k]), "s-"+name+"-upcpu-"+key)
			}
			for k, name := range []string{"node", "journal", "filelist"} {
				b.ReportMetric(median(w[k])/median(w[3]), "wall-"+name+"/bare-"+key)
				b.ReportMetric(median(cpu[k])/max(median(cpu[3]), 0.01), "upcpu-"+name+"/bare-"+key)
			}
		}
		// One file at a time: announced, then in the journal node's tree.
		var lat, cpu, bcpu []float64
		for r := 0; r < rounds; r++ {
			p := fmt.Sprintf("d%03d/f%06d", r, 1000+r)
			want := []byte(fmt.Sprintf("one file, round %d\n", r))
			serial := ann.serial()
			os.WriteFile(filepath.Join(src, p), want, 0o644)
			at := ann.waitPast(serial)
			cpu0 := up.ChildCPU()
			journalled.engine.Trigger("bench", "mqtt") // what the node's MQTT subscriber does
			for {
				if got, _ := os.ReadFile(filepath.Join(journalled.dir, p)); bytes.Equal(got, want) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			lat = append(lat, time.Since(at).Seconds())
			journalled.wait(b)
			time.Sleep(50 * time.Millisecond)
			cpu = append(cpu, (up.ChildCPU() - cpu0).Seconds())
			_, c := bareRun()
			bcpu = append(bcpu, c.Seconds())
		}
		b.ReportMetric(median(lat), "s-announced-to-served-onefile")
		b.ReportMetric(median(cpu), "s-journal-upcpu-onefile")
		b.ReportMetric(median(bcpu), "s-bare-upcpu-onefile")
		b.ReportMetric(median(cpu)/max(median(bcpu), 0.01), "upcpu-journal/bare-onefile")
	}
	b.ReportMetric(float64(files), "files")
}

// benchAnnouncer records the announcer's serials and when each came.
type benchAnnouncer struct {
	mu sync.Mutex
	at int64
	t  time.Time
}

func (a *benchAnnouncer) Announce(m announcement.Announcement) error {
	n, _ := strconv.ParseInt(m.Serial, 10, 64)
	a.mu.Lock()
	defer a.mu.Unlock()
	if n > a.at {
		a.at, a.t = n, time.Now()
	}
	return nil
}

func (a *benchAnnouncer) serial() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at
}

// waitPast waits for a serial after n and returns when it was announced.
func (a *benchAnnouncer) waitPast(n int64) time.Time {
	for {
		a.mu.Lock()
		at, t := a.at, a.t
		a.mu.Unlock()
		if at > n {
			return t
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// benchEngine is one node's sync engine with the project "bench".
type benchEngine struct {
	engine *syncer.Engine
	dir    string
}

// benchList is the quick-fedora-mirror file list the bench's upstream
// keeps, as Fedora's does.
const benchList = "fullfiletimelist-bench"

// benchNode starts a node syncing the upstream's "proj", unpaced, with or
// without the change journal or a file list, and waits for its first sync.
func benchNode(b *testing.B, up *testenv.Upstream, journal bool, fileList string) *benchEngine {
	cfg := testenv.NodeConfig(b)
	cfg.Projects = []nodeconfig.Project{{Name: "bench", Source: up.URL("proj"), Schedule: yamlconf.Dur(24 * time.Hour), FileList: &fileList}}
	cfg.Sync.Bwlimit = yamlconf.Bits(100e9) // unpaced in effect, as bare rsync is
	cfg.Sync.Journal = journal
	plans, _ := syncer.Plans(cfg)
	store := status.NewStore(filepath.Join(cfg.StateDir, "status"))
	n := &benchEngine{dir: filepath.Join(cfg.DataDir, "bench"), engine: syncer.New(syncer.Settings{NodeName: cfg.Name, Contact: cfg.Contact,
		Sponsor: cfg.Sponsor.Name, StateDir: cfg.StateDir, Sync: cfg.Sync}, plans, store, testenv.Logger(b))}
	n.engine.Open(context.Background())
	b.Cleanup(n.engine.Close)
	n.wait(b)
	return n
}

func (n *benchEngine) done() uint64 { s := n.engine.Status()[0]; return s.Runs + s.Checks }

// wait waits until the engine is idle after at least one run or check.
func (n *benchEngine) wait(b *testing.B) {
	deadline := time.Now().Add(30 * time.Minute)
	for n.done() < 1 || n.engine.Status()[0].State != status.Idle {
		if time.Now().After(deadline) {
			b.Fatalf("node sync: %+v", n.engine.Status()[0].Project)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// run triggers one run and waits for it.
func (n *benchEngine) run(b *testing.B) {
	before := n.done()
	n.engine.Trigger("bench", "bench")
	deadline := time.Now().Add(30 * time.Minute)
	for n.done() <= before || n.engine.Status()[0].State != status.Idle {
		if time.Now().After(deadline) {
			b.Fatalf("node sync: %+v", n.engine.Status()[0].Project)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
