package watchtower_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"micromirror/internal/store/postgres"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

const (
	monthNodes   = 100
	monthMinutes = 30 * 24 * 60
)

// monthRow yields the traffic rows of 100 nodes x 30 days of minutes
// (4,320,000 rows), as ingest would have written them.
func monthRows(now time.Time, fn func(node string, minute int64, bytes int64) error) error {
	start := now.Truncate(time.Minute).Add(-monthMinutes * time.Minute).Unix()
	for n := 0; n < monthNodes; n++ {
		node := fmt.Sprintf("n%03d.mm.example.net", n)
		for m := int64(0); m < monthMinutes; m++ {
			if err := fn(node, start+m*60, 1e8+int64(n)*1e5+m%1440*1e4); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkMonth: the usage API (a day, hourly series; a month, daily
// series) and the dashboard with 100 nodes x 30 days of minute data, SQLite
// against PostgreSQL in the same run.
func BenchmarkMonth(b *testing.B) {
	ctx := context.Background()
	now := time.Now().UTC()
	pgURL := testenv.StartPostgres(b)
	dbPath := filepath.Join(b.TempDir(), "month.db")
	stores := []struct {
		name string
		open func() (watchtower.Store, error)
		load func() error
	}{
		{"sqlite", func() (watchtower.Store, error) { return sqlite.Open(ctx, dbPath) }, func() error {
			db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
			if err != nil {
				return err
			}
			defer db.Close()
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			st, err := tx.Prepare(`INSERT INTO traffic (node, project, minute_unix, requests, bytes) VALUES (?, 'debian', ?, 1000, ?)`)
			if err != nil {
				return err
			}
			if err := monthRows(now, func(node string, m, by int64) error { _, err := st.Exec(node, m, by); return err }); err != nil {
				return err
			}
			return tx.Commit()
		}},
		{"postgres", func() (watchtower.Store, error) { return postgres.Open(ctx, pgURL) }, func() error {
			conn, err := pgx.Connect(ctx, pgURL)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			// Streamed: the same rows as monthRows, without holding them all.
			start := now.Truncate(time.Minute).Add(-monthMinutes * time.Minute).Unix()
			i := 0
			src := pgx.CopyFromFunc(func() ([]any, error) {
				if i == monthNodes*monthMinutes {
					return nil, nil
				}
				n, m := i/monthMinutes, int64(i%monthMinutes)
				i++
				return []any{fmt.Sprintf("n%03d.mm.example.net", n), "debian", start + m*60, int64(1000), 1e8 + int64(n)*1e5 + m%1440*1e4}, nil
			})
			_, err = conn.CopyFrom(ctx, pgx.Identifier{"traffic"}, []string{"node", "project", "minute_unix", "requests", "bytes"}, src)
			if err != nil {
				return err
			}
			_, err = conn.Exec(ctx, "ANALYZE traffic")
			return err
		}},
	}
	for _, st := range stores {
		s, err := st.open()
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < monthNodes; n++ { // the nodes' rows, through the real ingest
			bt := telemetry.Batch{Version: 1, Node: fmt.Sprintf("n%03d.mm.example.net", n), Seq: 1, Start: now.Add(-time.Minute), End: now,
				Syncs: []telemetry.SyncEvent{{Project: "debian", Started: now.Add(-time.Hour), Result: "success", LastSuccess: now.Add(-time.Hour)}}}
			if _, err := s.Ingest(ctx, bt, now); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		if err := st.load(); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: loaded %d traffic rows in %s", st.name, monthNodes*monthMinutes, time.Since(t0).Round(time.Second))
		srv := watchtower.NewServer(watchtower.Config{}, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := srv.Open("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		go srv.Serve("", "")
		for _, page := range []struct{ name, path string }{
			{"usage-day", "/api/v1/usage?group=node&step=1h"},
			{"usage-month", fmt.Sprintf("/api/v1/usage?group=project&step=24h&from=%d", now.Add(-30*24*time.Hour).Unix())},
			{"dashboard", "/"},
		} {
			b.Run(st.name+"/"+page.name, func(b *testing.B) { benchGet(b, "http://"+srv.Addr()+page.path) })
		}
		srv.Close(ctx)
		s.Close()
	}
}
