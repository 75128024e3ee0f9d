package syncer

import (
	"io/fs"
	"os"
	"path/filepath"

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

// freeBytes returns the bytes available to us and the filesystem size.
func freeBytes(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}
