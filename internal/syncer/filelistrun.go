package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"micromirror/internal/filelist"
)

// fileList is a run's view of the upstream's quick-fedora-mirror file
// list: the copy fetched now, and the copy of the tree's last success.
type fileList struct{ fresh, last string }

// readFileList fetches the upstream's file list, as a delta against the
// copy of the last success (nothing moves when it is unchanged). nil when
// the plan has none, the fetch fails or the list is refused (logged): the
// run is a full one.
func (j *job) readFileList(ctx context.Context, timeout, contimeout int) *fileList {
	if j.plan.FileList == "" {
		return nil
	}
	dir := filepath.Join(j.e.set.StateDir, "markers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		j.log.printf("file list: %v", err)
		return nil
	}
	fl := &fileList{fresh: filepath.Join(dir, j.plan.Name+".filelist.new"), last: filepath.Join(dir, j.plan.Name+".filelist")}
	os.Remove(fl.fresh)
	os.Link(fl.last, fl.fresh) // rsync replaces it by rename: the last copy stays as it was
	err := j.e.runner.FetchDelta(ctx, j.plan.markerURL(j.plan.FileList), fl.fresh, timeout, contimeout, fmt.Sprintf("--max-size=%d", filelist.MaxBytes))
	if err == nil {
		_, err = os.Stat(fl.fresh) // absent when --max-size skipped it
	}
	if err != nil {
		j.log.printf("no file list: %v", err)
		return nil
	}
	// A list refused now is never kept as the tree's: the next run
	// compares with the last good one.
	if err := fl.check(); err != nil {
		j.log.printf("file list refused: %v", err)
		return nil
	}
	return fl
}

func (fl *fileList) check() error {
	f, err := os.Open(fl.fresh)
	if err != nil {
		return err
	}
	defer f.Close()
	return filelist.Read(f, func(string, string) {})
}

// paths are those whose entries differ between the tree's list and the
// fresh one, with the list itself; why says why a full run instead.
func (fl *fileList) paths(name string, limit int) ([]string, string) {
	if _, err := os.Stat(fl.last); err != nil {
		return nil, "no file list kept from the last success"
	}
	paths, err := filelist.Diff(fl.last, fl.fresh, limit)
	switch {
	case errors.Is(err, filelist.ErrTooMany):
		return nil, fmt.Sprintf("the file list names more than %d changes, a full run costs less", limit)
	case err != nil:
		return nil, fmt.Sprintf("file list refused: %v", err)
	case len(paths) == 0:
		return nil, ""
	}
	if !strings.HasPrefix(name, "/") {
		paths = append(paths, name) // the tree's own copy
	}
	return paths, ""
}

// keep makes the fresh list the tree's, after a success.
func (fl *fileList) keep() error { return os.Rename(fl.fresh, fl.last) }
