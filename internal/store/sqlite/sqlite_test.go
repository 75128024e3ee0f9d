package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"micromirror/internal/watchtower"
	"micromirror/internal/watchtower/storetest"
)

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wt.db")
	storetest.Run(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wt.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := filepath.Join(dir, "backup.db")
	storetest.Backup(t, s, func() error { return Backup(context.Background(), path, out) },
		func(t *testing.T) watchtower.Store {
			r, err := Open(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			return r
		})
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v %v", fi, err)
	}
	// Nothing is created for a database that is not there, and the
	// previous backup is kept when one fails.
	if err := Backup(context.Background(), filepath.Join(dir, "nosuch.db"), out); err == nil {
		t.Error("a missing database backed up")
	}
	if _, err := os.Stat(filepath.Join(dir, "nosuch.db")); err == nil {
		t.Error("backup created the missing database")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 { // wt.db, -wal, -shm, backup.db
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("left in the dir: %v", names)
	}
}
