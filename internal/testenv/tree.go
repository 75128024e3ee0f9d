package testenv

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Tree describes every entry under root, for comparing two trees whole:
// type and permissions; for files size, mtime, content and the other
// names of a hard link; for symlinks the target. Directory mtimes are
// left out: rsync's --delay-updates renames files into a directory after
// setting its time, for bare rsync as for a node. Paths starting with a
// skip prefix are left out.
func Tree(tb testing.TB, root string, skip ...string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, s := range skip {
			if strings.HasPrefix(rel, s) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "symlink -> " + target
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %v", fi.Mode().Perm())
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %v %d %d %x", fi.Mode().Perm(), fi.Size(), fi.ModTime().UnixNano(), sha256.Sum256(b))
			if st := fi.Sys().(*syscall.Stat_t); st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		default:
			out[rel] = fmt.Sprintf("other %v", fi.Mode())
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walk %s: %v", root, err)
	}
	for _, names := range inodes {
		for _, n := range names {
			out[n] += " linked with " + strings.Join(slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == n }), ",")
		}
	}
	return out
}

// SameTree fails tb with every difference between two Trees.
func SameTree(tb testing.TB, got, want map[string]string) {
	tb.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			tb.Errorf("missing %s (%s)", k, want[k])
		} else if g != want[k] {
			tb.Errorf("%s: got %s, want %s", k, g, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			tb.Errorf("unexpected %s (%s)", k, got[k])
		}
	}
}
