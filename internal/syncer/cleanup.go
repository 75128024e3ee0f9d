package syncer

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// removeTempDirs deletes rsync's leftover ".~tmp~" directories (older
// rsync leaves them after a failure), which would otherwise hold stale
// half-files and disk space. It never follows symlinks and touches nothing
// else. It returns how many it removed.
func removeTempDirs(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() && d.Name() == ".~tmp~" {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			n++
			return filepath.SkipDir
		}
		return nil
	})
	return n, err
}

// discard removes a stage's set-aside once the run stands, off the run's
// path: renamed at once, so no later run takes it for what a cut-short
// run left to put back, then removed by a goroutine Close waits for.
// What a crash leaves of it, recover removes.
func (e *Engine) discard(dir string) {
	trash := fmt.Sprintf("%s%s%d", dir, discardSuffix, time.Now().UnixNano())
	if err := os.Rename(dir, trash); err != nil {
		os.RemoveAll(dir)
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		os.RemoveAll(trash)
	}()
}

const discardSuffix = ".discard-"

// removeDiscarded removes set-asides a crash left before discard did.
func removeDiscarded(p Plan) {
	old, _ := filepath.Glob(p.setAside() + discardSuffix + "*")
	for _, d := range old {
		os.RemoveAll(d)
	}
}

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
