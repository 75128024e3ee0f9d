// The guards of a run, which keep a bad upstream from emptying a mirror
// and a full disk from breaking one: refusals before the transfer (an
// empty upstream, a disk at its reserve), rsync's own cap on deletions
// with what it deleted set aside and put back, and a disk watch during
// the transfer. A forced run passes the checks before the transfer and
// the deletion cap; the disk watch holds for every run.

package syncer

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"micromirror/internal/rsync"
)

// transfer runs the stages in order under the guards: rsync's cap on
// deletions and the set-aside of what a deleting stage removes, and the
// disk watch. ok is false when a stage failed or was refused (recorded).
func (j *job) transfer(ctx context.Context, stages []rsync.Options, local int64) (runs []*rsync.Run, res rsync.Result, ok bool) {
	s := j.e.set.Sync
	limit := j.deleteLimit(local)
	backup := j.plan.setAside()
	if n, err := restoreDeleted(backup, j.plan.Dir); err != nil || n > 0 {
		j.log.printf("put back %d entries a run cut short had set aside (%v)", n, err)
	}
	for i, o := range stages {
		if o.Delete && j.reason != "force" {
			// An upstream truncated before or during the run (a
			// two-stage sync can take hours) stops rsync at the share
			// (exit 25); what it deleted and replaced until then was set
			// aside, and goes back.
			o.MaxDelete, o.Capped, o.BackupDir = limit, true, backup
		}
		j.w.stage.Store(fmt.Sprintf("stage %d/%d", i+1, len(stages)))
		r, err := j.pullWatchingDisk(ctx, o)
		if err != nil {
			return runs, j.fail(rsync.Fatal, err.Error()), false
		}
		j.log.printf("stage %d/%d: exit %d (%s) in %s\n%s", i+1, len(stages), r.Code, r.Result, r.Duration.Round(time.Millisecond), r.Output)
		runs = append(runs, r.Run)
		if r.Code == rsync.MaxDeleteExit {
			j.recordRun(runs, "refused")
			n, err := restoreDeleted(backup, j.plan.Dir)
			if err != nil {
				j.log.printf("putting back what the stopped run deleted: %v", err)
			}
			return runs, j.refuse(fmt.Sprintf("rsync stopped deleting at %d entries (%.0f%% of %d) and the %d it deleted are back: "+
				"upstream truncated? A forced run deletes them", limit, s.MaxDeletePercent, local, n)), false
		}
		if o.BackupDir != "" {
			j.e.discard(o.BackupDir) // the run stands: old versions and deleted entries go
		}
		if r.DiskLow {
			j.recordRun(runs, "refused")
			removeTempDirs(j.plan.Dir) // what the stopped stage staged in .~tmp~
			restoreDeleted(backup, j.plan.Dir)
			return runs, j.refuse(fmt.Sprintf("not enough disk: stopped at the %.0f%% reserve during the run", s.ReservePercent)), false
		}
		if !r.Result.OK() {
			msg := rsync.LastLines(r.Output, 2)
			if r.Stalled {
				msg = fmt.Sprintf("stalled: no progress for %s, killed", s.StallTimeout.D())
			}
			j.recordRun(runs, string(r.Result))
			if n, err := removeTempDirs(j.plan.Dir); err == nil && n > 0 {
				j.log.printf("removed %d leftover temp dirs", n)
			}
			return runs, j.fail(r.Result, msg), false
		}
	}
	return runs, runs[len(runs)-1].Result, true
}

// minGuardedDeletes is the fewest deletions the share guard looks at.
const minGuardedDeletes = 10

// deleteLimit is the most deletions a run may make: the share of the
// tree, with a floor below which the guard does not look (tiny trees).
func (j *job) deleteLimit(local int64) int {
	return max(minGuardedDeletes-1, int(j.e.set.Sync.MaxDeletePercent*float64(local)/100))
}

// setAside is where a deleting stage sets aside what it deletes or
// replaces: beside the tree, on its file system (renames), under a name
// neither the web server nor the rsync daemon ever shows (.~tmp~).
func (p Plan) setAside() string {
	return filepath.Join(filepath.Dir(p.Dir), ".~tmp~", "set-aside-"+filepath.Base(p.Dir))
}

// cheapChecks refuse what is plain before any transfer, at the cost of a
// directory listing: an upstream whose tree is empty while ours is not
// (for a full run: a journal run found the journal in that tree), and a
// disk already at its reserve. It returns why, "" to go on.
func (j *job) cheapChecks(ctx context.Context, local int64, full bool, timeout, contimeout int) string {
	s := j.e.set.Sync
	if free, total, err := freeBytes(j.plan.Dir); err == nil {
		if reserve := uint64(float64(total) * s.ReservePercent / 100); free <= reserve {
			return fmt.Sprintf("not enough disk: %d bytes free, the reserve is %.0f%% (%d bytes)", free, s.ReservePercent, reserve)
		}
	}
	if local <= 1 || !full {
		return ""
	}
	n, err := j.e.runner.ListTop(ctx, j.plan.Source, timeout, contimeout)
	if err == nil && n == 0 {
		return fmt.Sprintf("upstream looks empty (nothing at its top) while the mirror has %d entries", local)
	}
	return "" // a listing that fails is the run's to report
}

// pullWatchingDisk runs one stage and stops it when the disk reaches its
// reserve: the reserve holds during the transfer, not only before it.
func (j *job) pullWatchingDisk(ctx context.Context, o rsync.Options) (*pull, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	low := make(chan struct{})
	reserve := j.e.set.Sync.ReservePercent
	go func() {
		t := time.NewTicker(diskWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if free, total, err := freeBytes(j.plan.Dir); err == nil && free <= uint64(float64(total)*reserve/100) {
					close(low)
					cancel()
					return
				}
			}
		}
	}()
	r, err := j.e.runner.Pull(ctx, o, func(p rsync.Progress) { j.w.progress.Store(&p) })
	if err != nil {
		return nil, err
	}
	select {
	case <-low:
		return &pull{Run: r, DiskLow: true}, nil
	default:
		return &pull{Run: r}, nil
	}
}

// pull is one stage's run, and whether the disk watch stopped it.
type pull struct {
	*rsync.Run
	DiskLow bool
}

// diskWatchEvery is how often a running stage checks the disk.
var diskWatchEvery = time.Second

// freeBytes returns the bytes available to us and the filesystem size.
func freeBytes(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// countEntries counts a tree's entries as rsync's "Number of files" does
// (files, directories, links; the root included), for the deletion guard
// of a tree whose count no run recorded yet. Sync machinery is not
// counted; a tree that is not there counts 0.
func countEntries(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == ".~tmp~" || d.Name() == ".rsync-partial") {
			return filepath.SkipDir
		}
		n++
		return nil
	})
	return n
}

// restoreDeleted puts back into the tree every entry of the set-aside
// directory the tree lacks (what a stopped run deleted; replaced files'
// old versions are skipped, the tree has their new ones), then removes
// the set-aside directory. A missing directory restores nothing.
func restoreDeleted(aside, tree string) (int, error) {
	if _, err := os.Lstat(aside); os.IsNotExist(err) {
		return 0, nil
	}
	n := 0
	err := filepath.WalkDir(aside, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(aside, p)
		dst := filepath.Join(tree, rel)
		if _, err := os.Lstat(dst); err == nil {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(p, dst); err != nil {
			return err
		}
		n++
		return nil
	})
	if rerr := os.RemoveAll(aside); err == nil {
		err = rerr
	}
	return n, err
}
