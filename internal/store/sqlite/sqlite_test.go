package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
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

// TestMigrationsByName: a database the position-numbered scheme migrated
// (schema_version 7) is adopted, its migrations recorded by name and none
// run again (they would fail: their tables exist); a fresh one records
// every migration it ran; reopening runs nothing.
func TestMigrationsByName(t *testing.T) {
	ctx := context.Background()
	old := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL)`)
	for i, n := range names {
		src, _ := migrations.ReadFile(n)
		if _, err := db.Exec(string(src)); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		db.Exec(`INSERT INTO schema_version (version) VALUES (?)`, i+1)
	}
	db.Close()
	for _, path := range []string{old, filepath.Join(t.TempDir(), "new.db")} {
		for range 2 {
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(path), err)
			}
			var n int
			s.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
			if n != len(names) {
				t.Errorf("%s: %d migrations recorded, want %d", filepath.Base(path), n, len(names))
			}
			s.Close()
		}
	}
}

func TestRollups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wt.db")
	storetest.Rollups(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRollupMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wt.db")
	storetest.RollupMigration(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(t *testing.T, s watchtower.Store, q string) {
		if _, err := s.(*Store).db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	})
}
