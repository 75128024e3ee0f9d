package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
	"micromirror/internal/watchtower/storetest"
)

func TestConformance(t *testing.T) {
	url := testenv.StartPostgres(t)
	storetest.Run(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// A pg_dump backup taken while the watchtower writes restores with
// pg_restore into a new database the watchtower opens.
func TestBackup(t *testing.T) {
	url := testenv.StartPostgres(t)
	ctx := context.Background()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The backup passes a password by environment: give the server's
	// user one and connect with it (trust ignores it, pg_dump must not
	// choke on it).
	withPassword := strings.Replace(url, "postgres@", "postgres:s3cret@", 1)
	out := filepath.Join(t.TempDir(), "watchtower.dump")
	restored := strings.Replace(url, "/postgres?", "/restored?", 1)
	storetest.Backup(t, s, func() error { return Backup(ctx, withPassword, out) },
		func(t *testing.T) watchtower.Store {
			if _, err := s.pool.Exec(ctx, `CREATE DATABASE restored`); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.Command("pg_restore", "--no-owner", "--dbname="+restored, out).CombinedOutput(); err != nil {
				t.Fatalf("pg_restore: %v: %s", err, b)
			}
			r, err := Open(ctx, restored)
			if err != nil {
				t.Fatal(err)
			}
			return r
		})
	if err := Backup(ctx, strings.Replace(withPassword, "/postgres?", "/nosuch?", 1), out+".2"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("backup of a missing database: %v", err)
	}
	if _, err := os.Stat(out + ".2"); err == nil {
		t.Error("a failed backup left a file")
	}
}

// TestMigrationsByName: a database the position-numbered scheme migrated
// (schema_version 7) is adopted, none of its migrations run again (they
// would fail: their tables exist); reopening runs nothing.
func TestMigrationsByName(t *testing.T) {
	url := testenv.StartPostgres(t)
	ctx := context.Background()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	// Make it what the old scheme left: no record by name, a version.
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	for _, q := range []string{`DROP TABLE schema_migrations`, `CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		fmt.Sprintf(`INSERT INTO schema_version (version) VALUES (%d)`, len(names))} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	for range 2 {
		s, err := Open(ctx, url)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		var n int
		s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
		if n != len(names) {
			t.Errorf("%d migrations recorded, want %d", n, len(names))
		}
		s.Close()
	}
}

func TestRollups(t *testing.T) {
	url := testenv.StartPostgres(t)
	storetest.Rollups(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestRollupMigration(t *testing.T) {
	url := testenv.StartPostgres(t)
	storetest.RollupMigration(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(t *testing.T, s watchtower.Store, q string) {
		if _, err := s.(*Store).pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	})
}

// TestTransitionsOfReplicas: two watchtowers on one database evaluating
// at the same moment (a lease changing hands) fire and resolve each alert
// once between them.
func TestTransitionsOfReplicas(t *testing.T) {
	url := testenv.StartPostgres(t)
	ctx := context.Background()
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	alert := watchtower.Alert{Key: "node-silent/n", Kind: "node-silent", Node: "n", Message: "silent"}
	var fired, resolved atomic.Int64
	now := time.Now()
	for round := range 20 {
		for _, found := range [][]watchtower.Alert{{alert}, nil} {
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, s := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					f, r, err := s.TransitionAlerts(ctx, found, now.Add(time.Duration(round)*time.Minute), true)
					if err != nil {
						t.Error(err)
					}
					fired.Add(int64(len(f)))
					resolved.Add(int64(len(r)))
				}()
			}
			close(start)
			wg.Wait()
		}
	}
	pending, _ := stores[0].PendingDeliveries(ctx, 1000)
	if fired.Load() != 20 || resolved.Load() != 20 || len(pending) != 40 {
		t.Errorf("20 rounds: %d fired, %d resolved, %d deliveries queued; want 20, 20, 40", fired.Load(), resolved.Load(), len(pending))
	}
}

// TestLeadHandsOver: one of two stores leads; closing it hands the lead
// to the other at once (Close unlocks: before, the lock went with the
// server's process a moment after, and the other could still find it
// held); a leader that dies hands it over once its connection is gone.
func TestLeadHandsOver(t *testing.T) {
	url := testenv.StartPostgres(t)
	ctx := context.Background()
	a, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if la, _ := a.Lead(ctx); !la {
		t.Fatal("the first store does not lead")
	}
	for range 3 { // asked again, each keeps its role
		la, _ := a.Lead(ctx)
		lb, _ := b.Lead(ctx)
		if !la || lb {
			t.Fatalf("a leads %v, b leads %v", la, lb)
		}
	}
	a.Close()
	if lb, err := b.Lead(ctx); !lb || err != nil {
		t.Fatalf("b does not take over: %v", err)
	}

	// b dies: its server process is ended from outside, as when the
	// machine is gone. c takes over once PostgreSQL has let go.
	c, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if lc, _ := c.Lead(ctx); lc {
		t.Fatal("c leads while b does")
	}
	if _, err := c.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = `+leadLock+`::bigint`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if lc, _ := c.Lead(ctx); lc {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("c never took over from a dead leader")
		}
	}
	if lb, _ := b.Lead(ctx); lb {
		t.Error("b still leads after its connection died")
	}
}
