// Package postgres is the watchtower's store for large fleets: PostgreSQL
// through pgx, with embedded migrations. It passes the same conformance
// suite as the SQLite store.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
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

	leadMu   sync.Mutex // guards leadConn and leading
	leadConn *pgx.Conn  // out of the pool: the session Lead's lock lives in
	leading  bool
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
	rows, err := s.pool.Query(ctx, `SELECT node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped, health FROM nodes ORDER BY node`)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.NodeSummary, error) {
		var n watchtower.NodeSummary
		var seen, free, total, dropped int64
		var health string
		err := r.Scan(&n.Node, &seen, &n.Version, &n.MQTTConnected, &free, &total, &dropped, &health)
		n.DiskFree, n.DiskTotal, n.Dropped, n.LastSeen = uint64(free), uint64(total), uint64(dropped), query.Time(seen)
		n.Health = query.ParseHealth(health)
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
	err = s.each(ctx, query.ProjectStates, func(r pgx.Rows) error {
		node, p, err := query.ScanProject(r)
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
	err = s.each(ctx, query.Probes, func(r pgx.Rows) error {
		node, p, err := query.ScanProbe(r)
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
	// A few hundred keys repeat over up to hundreds of thousands of rows
	// (a week of the fleet by the hour): one string per key, not per row.
	keys := map[string]string{}
	var raw []byte
	err = s.each(ctx, q, func(r pgx.Rows) error {
		var x watchtower.SeriesRow
		var t, req, by int64
		if err := r.Scan(&raw, &t, &req, &by); err != nil {
			return err
		}
		k, ok := keys[string(raw)]
		if !ok {
			k = string(raw)
			keys[k] = k
		}
		x.Key, x.T, x.Requests, x.Bytes = k, time.Unix(t, 0).UTC(), uint64(req), uint64(by)
		out = append(out, x)
		return nil
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
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, st := range query.SaveProbe(p, true) {
			if _, err := tx.Exec(ctx, st.SQL, st.Args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// Syncs implements watchtower.Store.
func (s *Store) Syncs(ctx context.Context, node string, from, to time.Time, limit int) ([]watchtower.SyncRun, error) {
	a := &query.Args{Dollar: true}
	var out []watchtower.SyncRun
	err := s.each(ctx, query.Syncs(a, node, from, to, limit), func(r pgx.Rows) error {
		x, err := query.ScanSyncRun(r)
		out = append(out, x)
		return err
	}, a.List...)
	return out, err
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
	s.leadMu.Lock()
	if s.leadConn != nil {
		if s.leading {
			// Hand the lead over now: a closed connection's locks go only
			// when its server process has ended, a moment after.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.leadConn.Exec(ctx, `SELECT pg_advisory_unlock(`+leadLock+`)`)
			cancel()
		}
		s.dropLead()
	}
	s.leadMu.Unlock()
	s.pool.Close()
	return nil
}

// OpenAlerts implements watchtower.Store.
func (s *Store) OpenAlerts(ctx context.Context) ([]watchtower.Alert, error) {
	rows, err := s.pool.Query(ctx, query.OpenAlerts)
	return scanAlerts(rows, err)
}

func scanAlerts(rows pgx.Rows, err error) ([]watchtower.Alert, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.Alert, error) {
		var a watchtower.Alert
		var since int64
		err := r.Scan(&a.Key, &a.Kind, &a.Node, &a.Project, &a.Message, &since)
		a.Since = time.Unix(since, 0).UTC()
		return a, err
	})
}

// alertsLock is the advisory lock transitions take ("mmal"): replicas
// evaluating at once take turns, and the second finds the first's alerts.
const alertsLock = "1835884908"

// TransitionAlerts implements watchtower.Store.
func (s *Store) TransitionAlerts(ctx context.Context, found []watchtower.Alert, now time.Time, queue bool) (fired, resolved []watchtower.Alert, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+alertsLock+`)`); err != nil {
		return nil, nil, err
	}
	rows, err := tx.Query(ctx, query.OpenAlerts)
	open, err := scanAlerts(rows, err)
	if err != nil {
		return nil, nil, err
	}
	next, fired, resolved := watchtower.DiffAlerts(open, found, now)
	for _, st := range query.AlertTransition(next, fired, resolved, now, queue, true) {
		if _, err := tx.Exec(ctx, st.SQL, st.Args...); err != nil {
			return nil, nil, err
		}
	}
	return fired, resolved, tx.Commit(ctx)
}

// PendingDeliveries implements watchtower.Store.
func (s *Store) PendingDeliveries(ctx context.Context, limit int) ([]watchtower.Delivery, error) {
	a := &query.Args{Dollar: true}
	return s.deliveries(ctx, query.PendingDeliveries(a, limit), a.List)
}

// Deliveries implements watchtower.Store.
func (s *Store) Deliveries(ctx context.Context, limit int) ([]watchtower.Delivery, error) {
	a := &query.Args{Dollar: true}
	return s.deliveries(ctx, query.RecentDeliveries(a, limit), a.List)
}

func (s *Store) deliveries(ctx context.Context, q string, args []any) ([]watchtower.Delivery, error) {
	var out []watchtower.Delivery
	err := s.each(ctx, q, func(r pgx.Rows) error {
		var d watchtower.Delivery
		var payload string
		var created, next, done, attempts int64
		if err := r.Scan(&d.ID, &payload, &created, &d.State, &attempts, &next, &d.LastError, &done); err != nil {
			return err
		}
		d.Attempts = int(attempts)
		out = append(out, d)
		return query.ScanDelivery(&out[len(out)-1], payload, created, next, done)
	}, args...)
	return out, err
}

// RecordDelivery implements watchtower.Store.
func (s *Store) RecordDelivery(ctx context.Context, d watchtower.Delivery) error {
	for _, st := range query.RecordDelivery(d, true) {
		if _, err := s.pool.Exec(ctx, st.SQL, st.Args...); err != nil {
			return err
		}
	}
	return nil
}

// leadLock is the advisory lock the leading replica holds ("mmld").
const leadLock = "1835887716"

// Lead implements watchtower.Store. The leader holds a session advisory
// lock on a connection of its own, taken out of the pool: the lock lasts
// as long as the session, and ends with it when the process dies or the
// connection breaks, so another replica gets it on its next try. A
// replica that cannot tell whether its session lives (the ping fails)
// closes it, giving the lock up rather than risk two leaders.
func (s *Store) Lead(ctx context.Context) (bool, error) {
	s.leadMu.Lock()
	defer s.leadMu.Unlock()
	if s.leadConn != nil {
		if err := s.leadConn.Ping(ctx); err != nil {
			s.dropLead()
		}
	}
	if s.leadConn == nil {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return false, err
		}
		s.leadConn = c.Hijack()
	}
	if s.leading {
		return true, nil
	}
	if err := s.leadConn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+leadLock+`)`).Scan(&s.leading); err != nil {
		s.dropLead()
		return false, err
	}
	return s.leading, nil
}

// dropLead closes the lead connection (and with it any lock it held).
func (s *Store) dropLead() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.leadConn.Close(ctx)
	s.leadConn, s.leading = nil, false
}

// HealthSamples implements watchtower.Store.
func (s *Store) HealthSamples(ctx context.Context, node string, from, to time.Time) ([]watchtower.HealthSample, error) {
	a := &query.Args{Dollar: true}
	var out []watchtower.HealthSample
	err := s.each(ctx, query.HealthSamples(a, node, from, to), func(r pgx.Rows) error {
		var end int64
		var maxT, diskT, wear *float64
		var synced, errs *int64
		if err := r.Scan(&end, &maxT, &diskT, &wear, &synced, &errs); err != nil {
			return err
		}
		out = append(out, query.HealthSample(end, maxT, diskT, wear, synced, errs))
		return nil
	}, a.List...)
	return out, err
}
