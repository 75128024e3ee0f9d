package syncer

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
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
