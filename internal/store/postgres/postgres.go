// Package postgres is the watchtower's store for large fleets: PostgreSQL
// through pgx, with embedded migrations. It passes the same conformance
// suite as the SQLite store.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"micromirror/internal/store/migrate"
	"micromirror/internal/store/query"
	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a watchtower.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

var _ watchtower.Store = (*Store)(nil)

// Open connects (postgres://...) and applies pending migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// The dashboard's month-long queries group a few hundred thousand
	// roll-up rows: with the default 4 MB they sort on disk, and JIT
	// compiling them costs more than it saves. The URL may set others.
	for k, v := range map[string]string{"work_mem": "64MB", "jit": "off"} {
		if _, set := cfg.ConnConfig.RuntimeParams[k]; !set {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies the embedded migrations not recorded by name yet, in
// one transaction with their records, one migrator at a time (a
// transaction-scoped advisory lock: several watchtowers may start at
// once). A database numbered by the older scheme is adopted first.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+migrateLock+`)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+migrate.Table+` (name TEXT PRIMARY KEY, applied_unix BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[string]bool{}
	rows, err := tx.Query(ctx, `SELECT name FROM `+migrate.Table)
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
	var old bool
	if tx.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&old); old {
		tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&legacy)
	}
	adopt, run, err := migrate.Plan(migrations, applied, legacy)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	now := time.Now().Unix()
	for _, name := range run {
		src, _ := migrations.ReadFile(name)
		if _, err := tx.Exec(ctx, string(src)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	for _, name := range append(adopt, run...) {
		if _, err := tx.Exec(ctx, `INSERT INTO `+migrate.Table+` (name, applied_unix) VALUES ($1, $2)`, name, now); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// migrateLock is the advisory lock key migrators share ("mmig").
const migrateLock = "1835887975"

// Ingest implements watchtower.Store in one round trip: the statements
// go as one pipeline, which PostgreSQL runs as one implicit transaction.
// The first records (node, seq) and fails on a duplicate, so nothing
// after it runs.
func (s *Store) Ingest(ctx context.Context, b telemetry.Batch, received time.Time) (bool, error) {
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO batches (node, seq, start_unix, end_unix, received_unix) VALUES ($1, $2, $3, $4, $5)`,
		b.Node, int64(b.Seq), b.Start.Unix(), b.End.Unix(), received.Unix())
	for _, st := range query.Ingest(b, true) {
		batch.Queue(st.SQL, st.Args...)
	}
	br := s.pool.SendBatch(ctx, batch)
	_, err := br.Exec()
	if err != nil {
		br.Close()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" /* unique_violation */ && pgErr.ConstraintName == "batches_pkey" {
			return true, nil
		}
		return false, fmt.Errorf("ingest: %w", err)
	}
	for range batch.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return false, fmt.Errorf("ingest: %w", err)
		}
	}
	return false, br.Close()
}

// Nodes implements watchtower.Store: four queries, whatever the fleet's size.
func (s *Store) Nodes(ctx context.Context) ([]watchtower.NodeSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped FROM nodes ORDER BY node`)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.NodeSummary, error) {
		var n watchtower.NodeSummary
		var seen, free, total, dropped int64
		err := r.Scan(&n.Node, &seen, &n.Version, &n.MQTTConnected, &free, &total, &dropped)
		n.DiskFree, n.DiskTotal, n.Dropped, n.LastSeen = uint64(free), uint64(total), uint64(dropped), query.Time(seen)
		return n, err
	})
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, n := range out {
		index[n.Node] = i
	}
	attach := func(node string, fn func(n *watchtower.NodeSummary)) {
		if i, ok := index[node]; ok {
			fn(&out[i])
		}
	}
	err = s.each(ctx, `SELECT node, project, last_success_unix, last_result, last_run_unix, tree_bytes, serial, failures FROM project_state ORDER BY node, project`,
		func(r pgx.Rows) error {
			var node string
			var p watchtower.ProjectSummary
			var ok, run, failures int64
			err := r.Scan(&node, &p.Project, &ok, &p.LastResult, &run, &p.TreeBytes, &p.Serial, &failures)
			p.LastSuccess, p.LastRun, p.Failures = query.Time(ok), time.Unix(run, 0).UTC(), int(failures)
			attach(node, func(n *watchtower.NodeSummary) { n.Projects = append(n.Projects, p) })
			return err
		})
	if err != nil {
		return nil, err
	}
	err = s.each(ctx, `SELECT node, checker, last_unix, requests, errors, last_error_unix FROM checker_visits ORDER BY node, checker`,
		func(r pgx.Rows) error {
			var node string
			var c watchtower.CheckerSummary
			var last, req, errs, lastErr int64
			err := r.Scan(&node, &c.Checker, &last, &req, &errs, &lastErr)
			c.LastVisit, c.Requests, c.Errors, c.LastError = time.Unix(last, 0).UTC(), uint64(req), uint64(errs), query.Time(lastErr)
			attach(node, func(n *watchtower.NodeSummary) { n.Checkers = append(n.Checkers, c) })
			return err
		})
	if err != nil {
		return nil, err
	}
	err = s.each(ctx, `SELECT node, scheme, at_unix, ok, latency_ms, cert_expiry_unix, error, oldest_sync_unix FROM probes ORDER BY node, scheme`,
		func(r pgx.Rows) error {
			var node string
			var p watchtower.Probe
			var at, exp, oldest int64
			err := r.Scan(&node, &p.Scheme, &at, &p.OK, &p.LatencyMS, &exp, &p.Error, &oldest)
			p.At, p.CertExpiry, p.OldestSync = time.Unix(at, 0).UTC(), query.Time(exp), query.Time(oldest)
			attach(node, func(n *watchtower.NodeSummary) { n.Probes = append(n.Probes, p) })
			return err
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each runs a query and calls fn for each row.
func (s *Store) each(ctx context.Context, q string, fn func(pgx.Rows) error, args ...any) error {
	rows, err := s.pool.Query(ctx, q, args...)
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
	a := &query.Args{Dollar: true}
	q, err := query.Usage(a, group, from, to)
	if err != nil {
		return nil, err
	}
	var out []watchtower.UsageRow
	err = s.each(ctx, q, func(r pgx.Rows) error {
		var u watchtower.UsageRow
		var req, by int64
		err := r.Scan(&u.Key, &req, &by)
		u.Requests, u.Bytes = uint64(req), uint64(by)
		out = append(out, u)
		return err
	}, a.List...)
	return out, err
}

// Served implements watchtower.Store.
func (s *Store) Served(ctx context.Context, node string, from, to time.Time, step time.Duration) ([]watchtower.Point, error) {
	a := &query.Args{Dollar: true}
	q, err := query.Served(a, node, from, to, step)
	if err != nil {
		return nil, err
	}
	var out []watchtower.Point
	err = s.each(ctx, q, func(r pgx.Rows) error {
		var t, req, by int64
		err := r.Scan(&t, &req, &by)
		out = append(out, watchtower.Point{T: time.Unix(t, 0).UTC(), Requests: uint64(req), Bytes: uint64(by)})
		return err
	}, a.List...)
	return out, err
}

// Series implements watchtower.Store.
func (s *Store) Series(ctx context.Context, group string, from, to time.Time, step time.Duration) ([]watchtower.SeriesRow, error) {
	a := &query.Args{Dollar: true}
	q, err := query.Series(a, group, from, to, step)
	if err != nil {
		return nil, err
	}
	var out []watchtower.SeriesRow
	err = s.each(ctx, q, func(r pgx.Rows) error {
		var x watchtower.SeriesRow
		var t, req, by int64
		err := r.Scan(&x.Key, &t, &req, &by)
		x.T, x.Requests, x.Bytes = time.Unix(t, 0).UTC(), uint64(req), uint64(by)
		out = append(out, x)
		return err
	}, a.List...)
	return out, err
}

// Demand implements watchtower.Store.
func (s *Store) Demand(ctx context.Context, from, to time.Time) ([]watchtower.DemandRow, error) {
	a := &query.Args{Dollar: true}
	q := query.Demand(a, from, to)
	var out []watchtower.DemandRow
	err := s.each(ctx, q, func(r pgx.Rows) error {
		var x watchtower.DemandRow
		var d, req, by int64
		err := r.Scan(&d, &x.Node, &x.Project, &req, &by)
		x.Day, x.Requests, x.Bytes = time.Unix(d, 0).UTC(), uint64(req), uint64(by)
		out = append(out, x)
		return err
	}, a.List...)
	return out, err
}

// Compact implements watchtower.Store: the hourly and daily rows hold
// every minute's counts already, so old minutes are only deleted.
func (s *Store) Compact(ctx context.Context, now time.Time, minuteKeep, hourKeep time.Duration) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, st := range query.Compact(now, minuteKeep, hourKeep, true) {
		if _, err := tx.Exec(ctx, st.SQL, st.Args...); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
	}
	return tx.Commit(ctx)
}

// SaveAnnouncement implements watchtower.Store.
func (s *Store) SaveAnnouncement(ctx context.Context, module, serial string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO announcements (module, at_unix, serial) VALUES ($1, $2, $3)
		ON CONFLICT (module) DO UPDATE SET at_unix = excluded.at_unix, serial = excluded.serial WHERE excluded.at_unix >= announcements.at_unix`,
		module, at.Unix(), serial)
	return err
}

// Announcements implements watchtower.Store.
func (s *Store) Announcements(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT module, at_unix FROM announcements`)
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
	var exp int64
	if !p.CertExpiry.IsZero() {
		exp = p.CertExpiry.Unix()
	}
	// A node that is probed but never pushed still belongs in the list
	// (and shows as silent).
	if _, err := s.pool.Exec(ctx, `INSERT INTO nodes (node, last_seen_unix) VALUES ($1, 0) ON CONFLICT DO NOTHING`, p.Node); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO probes (node, scheme, at_unix, ok, latency_ms, cert_expiry_unix, error, oldest_sync_unix)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (node, scheme) DO UPDATE SET at_unix = excluded.at_unix, ok = excluded.ok, latency_ms = excluded.latency_ms,
		cert_expiry_unix = excluded.cert_expiry_unix, error = excluded.error, oldest_sync_unix = excluded.oldest_sync_unix`,
		p.Node, p.Scheme, p.At.Unix(), p.OK, p.LatencyMS, exp, p.Error, query.Unix(p.OldestSync))
	return err
}

// Top implements watchtower.Store.
func (s *Store) Top(ctx context.Context, project string, from, to time.Time, limit int) ([]telemetry.PathCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT project, path, SUM(requests)::BIGINT, SUM(bytes)::BIGINT FROM top_paths
		WHERE day_unix >= $1 AND day_unix < $2 AND ($3 = '' OR project = $3) GROUP BY project, path
		ORDER BY SUM(requests) DESC, path LIMIT $4`, from.Truncate(24*time.Hour).Unix(), to.Unix(), project, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (telemetry.PathCount, error) {
		var p telemetry.PathCount
		var req, by int64
		err := r.Scan(&p.Project, &p.Path, &req, &by)
		p.Requests, p.Bytes = uint64(req), uint64(by)
		return p, err
	})
}

// Network implements watchtower.Store.
func (s *Store) Network(ctx context.Context, node string, from, to time.Time) ([]watchtower.NetSample, error) {
	rows, err := s.pool.Query(ctx, `SELECT end_unix, net_rx, net_tx FROM system WHERE node = $1 AND end_unix >= $2 AND end_unix < $3 ORDER BY end_unix`,
		node, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.NetSample, error) {
		var n watchtower.NetSample
		var t, rx, tx int64
		err := r.Scan(&t, &rx, &tx)
		n.T, n.Rx, n.Tx = time.Unix(t, 0).UTC(), uint64(rx), uint64(tx)
		return n, err
	})
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// OpenAlerts implements watchtower.Store.
func (s *Store) OpenAlerts(ctx context.Context) ([]watchtower.Alert, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, kind, node, project, message, since_unix FROM alerts`)
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

// UpdateAlerts implements watchtower.Store.
func (s *Store) UpdateAlerts(ctx context.Context, fired []watchtower.Alert, resolved []string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, a := range fired {
		if _, err := tx.Exec(ctx, `INSERT INTO alerts (key, kind, node, project, message, since_unix) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (key) DO UPDATE SET message = excluded.message`, a.Key, a.Kind, a.Node, a.Project, a.Message, a.Since.Unix()); err != nil {
			return err
		}
	}
	for _, k := range resolved {
		if _, err := tx.Exec(ctx, `DELETE FROM alerts WHERE key = $1`, k); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
