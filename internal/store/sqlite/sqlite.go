// Package sqlite is the watchtower's default store: SQLite through the pure
// Go modernc.org/sqlite driver, in WAL mode, with embedded migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"micromirror/internal/store/migrate"
	"micromirror/internal/store/query"
	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a watchtower.Store on one SQLite file.
type Store struct {
	db *sql.DB // the one writer: SQLite takes one at a time
	// ro are readers: in WAL mode they read a snapshot while the writer
	// goes on, so ingest never waits behind a month-long dashboard query.
	ro *sql.DB
}

var _ watchtower.Store = (*Store)(nil)

// Open opens (creates) the database and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Opened after the migrations: the file is in WAL mode by then.
	ro, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	ro.SetMaxOpenConns(4)
	s.ro = ro
	return s, nil
}

// migrate applies the embedded migrations not recorded by name yet, each
// in a transaction with its record (migrate.Plan: a database numbered by
// the older scheme is adopted first).
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migrate.Table+` (name TEXT PRIMARY KEY, applied_unix INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM `+migrate.Table)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		applied[n] = true
	}
	rows.Close()
	legacy := 0
	var old int
	if s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).Scan(&old); old > 0 {
		s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&legacy)
	}
	adopt, run, err := migrate.Plan(migrations, applied, legacy)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	now := time.Now().Unix()
	for _, name := range adopt {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO `+migrate.Table+` (name, applied_unix) VALUES (?, ?)`, name, now); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	for _, name := range run {
		src, _ := migrations.ReadFile(name)
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(src)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+migrate.Table+` (name, applied_unix) VALUES (?, ?)`, name, now); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Ingest implements watchtower.Store.
func (s *Store) Ingest(ctx context.Context, b telemetry.Batch, received time.Time) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO batches (node, seq, start_unix, end_unix, received_unix) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (node, seq) DO NOTHING`, b.Node, b.Seq, b.Start.Unix(), b.End.Unix(), received.Unix())
	if err != nil {
		return false, fmt.Errorf("ingest: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return true, nil
	}
	for _, st := range query.Ingest(b, false) {
		if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return false, fmt.Errorf("ingest: %w", err)
		}
	}
	return false, tx.Commit()
}

// Nodes implements watchtower.Store: four queries, whatever the fleet's size.
func (s *Store) Nodes(ctx context.Context) ([]watchtower.NodeSummary, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped, health FROM nodes ORDER BY node`)
	if err != nil {
		return nil, err
	}
	var out []watchtower.NodeSummary
	index := map[string]int{}
	for rows.Next() {
		var n watchtower.NodeSummary
		var seen int64
		var mq sql.NullBool
		var health string
		if err := rows.Scan(&n.Node, &seen, &n.Version, &mq, &n.DiskFree, &n.DiskTotal, &n.Dropped, &health); err != nil {
			rows.Close()
			return nil, err
		}
		if seen > 0 {
			n.LastSeen = time.Unix(seen, 0).UTC()
		}
		if mq.Valid {
			n.MQTTConnected = &mq.Bool
		}
		n.Health = query.ParseHealth(health)
		index[n.Node] = len(out)
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	err = s.each(ctx, query.ProjectStates, func(r *sql.Rows) error {
		node, p, err := query.ScanProject(r)
		if i, found := index[node]; found {
			out[i].Projects = append(out[i].Projects, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	err = s.each(ctx, `SELECT node, checker, last_unix, requests, errors, last_error_unix FROM checker_visits ORDER BY node, checker`,
		func(r *sql.Rows) error {
			var node string
			var c watchtower.CheckerSummary
			var last, lastErr int64
			if err := r.Scan(&node, &c.Checker, &last, &c.Requests, &c.Errors, &lastErr); err != nil {
				return err
			}
			c.LastVisit, c.LastError = time.Unix(last, 0).UTC(), query.Time(lastErr)
			if i, found := index[node]; found {
				out[i].Checkers = append(out[i].Checkers, c)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = s.each(ctx, query.Probes, func(r *sql.Rows) error {
		node, p, err := query.ScanProbe(r)
		if i, found := index[node]; found {
			out[i].Probes = append(out[i].Probes, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each runs a read query and calls fn for each row.
func (s *Store) each(ctx context.Context, q string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := s.ro.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Usage implements watchtower.Store.
func (s *Store) Usage(ctx context.Context, group string, from, to time.Time) ([]watchtower.UsageRow, error) {
	a := &query.Args{}
	q, err := query.Usage(a, group, from, to)
	if err != nil {
		return nil, err
	}
	var out []watchtower.UsageRow
	err = s.each(ctx, q, func(r *sql.Rows) error {
		var u watchtower.UsageRow
		err := r.Scan(&u.Key, &u.Requests, &u.Bytes)
		out = append(out, u)
		return err
	}, a.List...)
	return out, err
}

// Served implements watchtower.Store.
func (s *Store) Served(ctx context.Context, node string, from, to time.Time, step time.Duration) ([]watchtower.Point, error) {
	a := &query.Args{}
	q, err := query.Served(a, node, from, to, step)
	if err != nil {
		return nil, err
	}
	var out []watchtower.Point
	err = s.each(ctx, q, func(r *sql.Rows) error {
		var p watchtower.Point
		var t int64
		err := r.Scan(&t, &p.Requests, &p.Bytes)
		p.T = time.Unix(t, 0).UTC()
		out = append(out, p)
		return err
	}, a.List...)
	return out, err
}

// Series implements watchtower.Store.
func (s *Store) Series(ctx context.Context, group string, from, to time.Time, step time.Duration) ([]watchtower.SeriesRow, error) {
	a := &query.Args{}
	q, err := query.Series(a, group, from, to, step)
	if err != nil {
		return nil, err
	}
	var out []watchtower.SeriesRow
	err = s.each(ctx, q, func(r *sql.Rows) error {
		var row watchtower.SeriesRow
		var t int64
		err := r.Scan(&row.Key, &t, &row.Requests, &row.Bytes)
		row.T = time.Unix(t, 0).UTC()
		out = append(out, row)
		return err
	}, a.List...)
	return out, err
}

// Demand implements watchtower.Store.
func (s *Store) Demand(ctx context.Context, from, to time.Time) ([]watchtower.DemandRow, error) {
	a := &query.Args{}
	q := query.Demand(a, from, to)
	var out []watchtower.DemandRow
	err := s.each(ctx, q, func(r *sql.Rows) error {
		var d watchtower.DemandRow
		var day int64
		err := r.Scan(&day, &d.Node, &d.Project, &d.Requests, &d.Bytes)
		d.Day = time.Unix(day, 0).UTC()
		out = append(out, d)
		return err
	}, a.List...)
	return out, err
}

// Compact implements watchtower.Store: the hourly and daily rows hold
// every minute's counts already, so old minutes are only deleted.
func (s *Store) Compact(ctx context.Context, now time.Time, minuteKeep, hourKeep time.Duration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, st := range query.Compact(now, minuteKeep, hourKeep, false) {
		if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
	}
	return tx.Commit()
}

// SaveAnnouncement implements watchtower.Store.
func (s *Store) SaveAnnouncement(ctx context.Context, module, serial string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO announcements (module, at_unix, serial) VALUES (?, ?, ?)
		ON CONFLICT (module) DO UPDATE SET at_unix = excluded.at_unix, serial = excluded.serial WHERE excluded.at_unix >= announcements.at_unix`,
		module, at.Unix(), serial)
	return err
}

// Announcements implements watchtower.Store.
func (s *Store) Announcements(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT module, at_unix FROM announcements`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var m string
		var at int64
		if err := rows.Scan(&m, &at); err != nil {
			return nil, err
		}
		out[m] = time.Unix(at, 0).UTC()
	}
	return out, rows.Err()
}

// SaveProbe implements watchtower.Store.
func (s *Store) SaveProbe(ctx context.Context, p watchtower.Probe) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, st := range query.SaveProbe(p, false) {
		if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Syncs implements watchtower.Store.
func (s *Store) Syncs(ctx context.Context, node string, from, to time.Time, limit int) ([]watchtower.SyncRun, error) {
	a := &query.Args{}
	var out []watchtower.SyncRun
	err := s.each(ctx, query.Syncs(a, node, from, to, limit), func(r *sql.Rows) error {
		x, err := query.ScanSyncRun(r)
		out = append(out, x)
		return err
	}, a.List...)
	return out, err
}

// Top implements watchtower.Store.
func (s *Store) Top(ctx context.Context, project string, from, to time.Time, limit int) ([]telemetry.PathCount, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT project, path, SUM(requests), SUM(bytes) FROM top_paths
		WHERE day_unix >= ? AND day_unix < ? AND (? = '' OR project = ?) GROUP BY project, path
		ORDER BY SUM(requests) DESC, path LIMIT ?`, from.Truncate(24*time.Hour).Unix(), to.Unix(), project, project, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []telemetry.PathCount
	for rows.Next() {
		var p telemetry.PathCount
		if err := rows.Scan(&p.Project, &p.Path, &p.Requests, &p.Bytes); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Network implements watchtower.Store.
func (s *Store) Network(ctx context.Context, node string, from, to time.Time) ([]watchtower.NetSample, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT end_unix, net_rx, net_tx FROM system WHERE node = ? AND end_unix >= ? AND end_unix < ? ORDER BY end_unix`,
		node, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []watchtower.NetSample
	for rows.Next() {
		var n watchtower.NetSample
		var t int64
		if err := rows.Scan(&t, &n.Rx, &n.Tx); err != nil {
			return nil, err
		}
		n.T = time.Unix(t, 0).UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.ro.Close(), s.db.Close()) }

// OpenAlerts implements watchtower.Store.
func (s *Store) OpenAlerts(ctx context.Context) ([]watchtower.Alert, error) {
	return scanAlerts(s.db.QueryContext(ctx, query.OpenAlerts))
}

func scanAlerts(rows *sql.Rows, err error) ([]watchtower.Alert, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []watchtower.Alert
	for rows.Next() {
		var a watchtower.Alert
		var since int64
		if err := rows.Scan(&a.Key, &a.Kind, &a.Node, &a.Project, &a.Message, &since); err != nil {
			return nil, err
		}
		a.Since = time.Unix(since, 0).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// TransitionAlerts implements watchtower.Store; one writer at a time is
// SQLite's, so the transaction alone keeps transitions apart.
func (s *Store) TransitionAlerts(ctx context.Context, found []watchtower.Alert, now time.Time, queue bool) (fired, resolved []watchtower.Alert, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	open, err := scanAlerts(tx.QueryContext(ctx, query.OpenAlerts))
	if err != nil {
		return nil, nil, err
	}
	next, fired, resolved := watchtower.DiffAlerts(open, found, now)
	for _, st := range query.AlertTransition(next, fired, resolved, now, queue, false) {
		if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return nil, nil, err
		}
	}
	return fired, resolved, tx.Commit()
}

// PendingDeliveries implements watchtower.Store.
func (s *Store) PendingDeliveries(ctx context.Context, limit int) ([]watchtower.Delivery, error) {
	a := &query.Args{}
	return s.deliveries(ctx, query.PendingDeliveries(a, limit), a.List)
}

// Deliveries implements watchtower.Store.
func (s *Store) Deliveries(ctx context.Context, limit int) ([]watchtower.Delivery, error) {
	a := &query.Args{}
	return s.deliveries(ctx, query.RecentDeliveries(a, limit), a.List)
}

func (s *Store) deliveries(ctx context.Context, q string, args []any) ([]watchtower.Delivery, error) {
	var out []watchtower.Delivery
	err := s.each(ctx, q, func(r *sql.Rows) error {
		var d watchtower.Delivery
		var payload string
		var created, next, done int64
		if err := r.Scan(&d.ID, &payload, &created, &d.State, &d.Attempts, &next, &d.LastError, &done); err != nil {
			return err
		}
		out = append(out, d)
		return query.ScanDelivery(&out[len(out)-1], payload, created, next, done)
	}, args...)
	return out, err
}

// RecordDelivery implements watchtower.Store.
func (s *Store) RecordDelivery(ctx context.Context, d watchtower.Delivery) error {
	for _, st := range query.RecordDelivery(d, false) {
		if _, err := s.db.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return err
		}
	}
	return nil
}

// Lead implements watchtower.Store: a SQLite watchtower is the only one.
func (s *Store) Lead(context.Context) (bool, error) { return true, nil }

// HealthSamples implements watchtower.Store.
func (s *Store) HealthSamples(ctx context.Context, node string, from, to time.Time) ([]watchtower.HealthSample, error) {
	a := &query.Args{}
	var out []watchtower.HealthSample
	err := s.each(ctx, query.HealthSamples(a, node, from, to), func(r *sql.Rows) error {
		var end int64
		var maxT, diskT, wear sql.NullFloat64
		var synced, errs sql.NullInt64
		if err := r.Scan(&end, &maxT, &diskT, &wear, &synced, &errs); err != nil {
			return err
		}
		out = append(out, query.HealthSample(end, nullFloat(maxT), nullFloat(diskT), nullFloat(wear), nullInt(synced), nullInt(errs)))
		return nil
	}, a.List...)
	return out, err
}

func nullFloat(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	return &v.Float64
}

func nullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}
