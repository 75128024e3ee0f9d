package syncer_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"micromirror/internal/config"
	"micromirror/internal/status"
	"micromirror/internal/syncer"
	"micromirror/internal/testenv"
)

// BenchmarkSyncAgainstBareRsync: what a node's sync costs against a bare
// rsync of the same tree from the same daemon, in the same run: wall time
// and the upstream's CPU (the daemon's sessions), for an unchanged tree
// and for 1% of the files changed. SYNC_FILES sets the tree's size
// (default 300,000 files in 300 directories); ROUNDS the alternating runs
// whose medians are reported (default 3). The node runs with every guard
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
	bare := b.TempDir()
	cfg := testenv.NodeConfig(b)
	cfg.Projects = []config.Project{{Name: "bench", Source: up.URL("proj"), Schedule: config.Dur(24 * time.Hour)}}
	cfg.Sync.Bwlimit = config.Bits(100e9) // unpaced in effect, as bare rsync is
	plans, _ := syncer.Plans(cfg)
	store := status.NewStore(filepath.Join(cfg.StateDir, "status"))
	engine := syncer.New(syncer.Settings{NodeName: cfg.Name, Contact: cfg.Contact, Sponsor: cfg.Sponsor.Name,
		StateDir: cfg.StateDir, Sync: cfg.Sync}, plans, store, testenv.Logger(b))
	engine.Start(context.Background())
	defer engine.Close()
	runsOf := func() uint64 { return engine.Status()[0].Runs }
	wait := func(n uint64) {
		deadline := time.Now().Add(30 * time.Minute)
		for runsOf() < n || engine.Status()[0].State != status.Idle {
			if time.Now().After(deadline) {
				b.Fatalf("node sync: %+v", engine.Status()[0].Project)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait(1) // the first sync, not measured
	bareRun := func() (time.Duration, time.Duration) {
		cpu0, t0 := up.ChildCPU(), time.Now()
		out, err := exec.Command("rsync", "-rlptH", "--safe-links", "--delay-updates", "--delete-delay", up.URL("proj"), bare+"/").CombinedOutput()
		if err != nil {
			b.Fatalf("bare rsync: %v\n%s", err, out)
		}
		wall := time.Since(t0)
		time.Sleep(50 * time.Millisecond) // the daemon reaps its child
		return wall, up.ChildCPU() - cpu0
	}
	bareRun() // the first copy
	nodeRun := func() (time.Duration, time.Duration) {
		n := runsOf()
		cpu0, t0 := up.ChildCPU(), time.Now()
		engine.Trigger("bench", "bench")
		wait(n + 1)
		wall := time.Since(t0)
		time.Sleep(50 * time.Millisecond)
		return wall, up.ChildCPU() - cpu0
	}
	change := func(round int) {
		for i := 0; i < files; i += 100 {
			p := filepath.Join(src, fmt.Sprintf("d%03d", i%300), fmt.Sprintf("f%06d", i))
			os.WriteFile(p, []byte(fmt.Sprintf("file %d, round %d\n", i, round)), 0o644)
			os.Chtimes(p, time.Now(), time.Now().Add(time.Duration(round)*time.Second))
		}
	}
	for b.Loop() {
		for _, c := range []string{"unchanged", "1% changed"} {
			var nw, nc, bw, bc []float64
			for r := 0; r < rounds; r++ {
				if c != "unchanged" {
					change(r + 1)
				}
				// Alternate who goes first, so neither always meets a
				// warm or a cold page cache.
				var w1, c1, w2, c2 time.Duration
				if r%2 == 0 {
					w1, c1 = nodeRun()
					w2, c2 = bareRun()
				} else {
					w2, c2 = bareRun()
					w1, c1 = nodeRun()
				}
				nw, nc = append(nw, w1.Seconds()), append(nc, c1.Seconds())
				bw, bc = append(bw, w2.Seconds()), append(bc, c2.Seconds())
			}
			key := map[string]string{"unchanged": "unchanged", "1% changed": "changed1pct"}[c]
			b.ReportMetric(median(nw), "s-node-wall-"+key)
			b.ReportMetric(median(bw), "s-bare-wall-"+key)
			b.ReportMetric(median(nc), "s-node-upcpu-"+key)
			b.ReportMetric(median(bc), "s-bare-upcpu-"+key)
			b.ReportMetric(median(nw)/median(bw), "wall-node/bare-"+key)
			b.ReportMetric(median(nc)/max(median(bc), 0.01), "upcpu-node/bare-"+key)
		}
	}
	b.ReportMetric(float64(files), "files")
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
