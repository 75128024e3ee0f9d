// Package postgres is the watchtower's store for large fleets: PostgreSQL
// through pgx, with embedded migrations. It passes the same conformance
// suite as the SQLite store.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"micromirror/internal/store/migrate"
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
	pool, err := pgxpool.New(ctx, url)
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

// Ingest implements watchtower.Store.
func (s *Store) Ingest(ctx context.Context, b telemetry.Batch, received time.Time) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO batches (node, seq, start_unix, end_unix, received_unix) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (node, seq) DO NOTHING`, b.Node, int64(b.Seq), b.Start.Unix(), b.End.Unix(), received.Unix())
	if err != nil {
		return false, fmt.Errorf("ingest: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return true, nil
	}
	var mqtt *bool
	if b.MQTT != nil {
		mqtt = &b.MQTT.Connected
	}
	if _, err := tx.Exec(ctx, `INSERT INTO nodes (node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (node) DO UPDATE SET last_seen_unix = excluded.last_seen_unix, version = excluded.version,
		mqtt_connected = excluded.mqtt_connected, disk_free = excluded.disk_free, disk_total = excluded.disk_total, dropped = excluded.dropped
		WHERE excluded.last_seen_unix >= nodes.last_seen_unix`,
		b.Node, b.End.Unix(), b.System.Version, mqtt, int64(b.System.DiskFree), int64(b.System.DiskTotal), int64(b.Dropped)); err != nil {
		return false, fmt.Errorf("ingest node: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO system (node, end_unix, net_rx, net_tx, load1, disk_free, clients) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`, b.Node, b.End.Unix(), int64(b.System.NetRxBytes), int64(b.System.NetTxBytes), b.System.Load1, int64(b.System.DiskFree), int64(b.Clients)); err != nil {
		return false, fmt.Errorf("ingest system: %w", err)
	}
	day := b.End.Truncate(24 * time.Hour).Unix()
	for _, p := range b.Top {
		if _, err := tx.Exec(ctx, `INSERT INTO top_paths (day_unix, node, project, path, requests, bytes) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (day_unix, node, project, path) DO UPDATE SET requests = top_paths.requests + excluded.requests, bytes = top_paths.bytes + excluded.bytes`,
			day, b.Node, p.Project, p.Path, int64(p.Requests), int64(p.Bytes)); err != nil {
			return false, fmt.Errorf("ingest top: %w", err)
		}
	}
	for _, c := range b.Checkers {
		errs := c.Status["4xx"] + c.Status["5xx"]
		var lastErr int64
		if errs > 0 {
			lastErr = c.Last.Unix()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO checker_visits (node, checker, last_unix, requests, errors, last_error_unix) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (node, checker) DO UPDATE SET last_unix = GREATEST(checker_visits.last_unix, excluded.last_unix),
			requests = checker_visits.requests + excluded.requests, errors = checker_visits.errors + excluded.errors,
			last_error_unix = GREATEST(checker_visits.last_error_unix, excluded.last_error_unix)`,
			b.Node, c.Checker, c.Last.Unix(), int64(c.Requests), int64(errs), lastErr); err != nil {
			return false, fmt.Errorf("ingest checkers: %w", err)
		}
	}
	minute := b.End.Truncate(time.Minute).Unix()
	for _, p := range b.Projects {
		var req, by uint64
		for _, v := range p.Requests {
			req += v
		}
		for _, v := range p.Bytes {
			by += v
		}
		if _, err := tx.Exec(ctx, `INSERT INTO traffic (node, project, minute_unix, requests, bytes) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (node, project, minute_unix) DO UPDATE SET requests = traffic.requests + excluded.requests, bytes = traffic.bytes + excluded.bytes`,
			b.Node, p.Project, minute, int64(req), int64(by)); err != nil {
			return false, fmt.Errorf("ingest traffic: %w", err)
		}
	}
	for _, e := range b.Syncs {
		if _, err := tx.Exec(ctx, `INSERT INTO syncs (node, project, started_unix, seconds, result, trigger, bytes, files)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			b.Node, e.Project, e.Started.Unix(), e.Seconds, e.Result, e.Trigger, e.BytesReceived, e.Files); err != nil {
			return false, fmt.Errorf("ingest sync: %w", err)
		}
		var success int64
		if !e.LastSuccess.IsZero() {
			success = e.LastSuccess.Unix()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO project_state (node, project, last_success_unix, last_result, last_run_unix, tree_bytes, serial)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (node, project) DO UPDATE SET last_success_unix = GREATEST(project_state.last_success_unix, excluded.last_success_unix),
			last_result = excluded.last_result, last_run_unix = excluded.last_run_unix,
			tree_bytes = CASE WHEN excluded.tree_bytes > 0 THEN excluded.tree_bytes ELSE project_state.tree_bytes END,
			serial = CASE WHEN excluded.serial <> '' THEN excluded.serial ELSE project_state.serial END
			WHERE excluded.last_run_unix >= project_state.last_run_unix`,
			b.Node, e.Project, success, e.Result, e.Started.Unix(), e.TreeBytes, e.Serial); err != nil {
			return false, fmt.Errorf("ingest state: %w", err)
		}
	}
	return false, tx.Commit(ctx)
}

// Nodes implements watchtower.Store.
func (s *Store) Nodes(ctx context.Context) ([]watchtower.NodeSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped FROM nodes ORDER BY node`)
	if err != nil {
		return nil, err
	}
	var out []watchtower.NodeSummary
	for rows.Next() {
		var n watchtower.NodeSummary
		var seen, free, total, dropped int64
		if err := rows.Scan(&n.Node, &seen, &n.Version, &n.MQTTConnected, &free, &total, &dropped); err != nil {
			rows.Close()
			return nil, err
		}
		n.DiskFree, n.DiskTotal, n.Dropped = uint64(free), uint64(total), uint64(dropped)
		if seen > 0 {
			n.LastSeen = time.Unix(seen, 0).UTC()
		}
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		prows, err := s.pool.Query(ctx, `SELECT project, last_success_unix, last_result, last_run_unix, tree_bytes, serial FROM project_state WHERE node = $1 ORDER BY project`, out[i].Node)
		if err != nil {
			return nil, err
		}
		for prows.Next() {
			var p watchtower.ProjectSummary
			var ok, run int64
			if err := prows.Scan(&p.Project, &ok, &p.LastResult, &run, &p.TreeBytes, &p.Serial); err != nil {
				prows.Close()
				return nil, err
			}
			if ok > 0 {
				p.LastSuccess = time.Unix(ok, 0).UTC()
			}
			p.LastRun = time.Unix(run, 0).UTC()
			out[i].Projects = append(out[i].Projects, p)
		}
		prows.Close()
		for j := range out[i].Projects {
			p := &out[i].Projects[j]
			rrows, err := s.pool.Query(ctx, `SELECT result FROM syncs WHERE node = $1 AND project = $2 ORDER BY started_unix DESC LIMIT 20`, out[i].Node, p.Project)
			if err != nil {
				return nil, err
			}
			results, err := pgx.CollectRows(rrows, pgx.RowTo[string])
			if err != nil {
				return nil, err
			}
			p.Failures = watchtower.CountFailures(results)
		}
		crows, err := s.pool.Query(ctx, `SELECT checker, last_unix, requests, errors, last_error_unix FROM checker_visits WHERE node = $1 ORDER BY checker`, out[i].Node)
		if err != nil {
			return nil, err
		}
		cs, err := pgx.CollectRows(crows, func(r pgx.CollectableRow) (watchtower.CheckerSummary, error) {
			var c watchtower.CheckerSummary
			var last, req, errs, lastErr int64
			err := r.Scan(&c.Checker, &last, &req, &errs, &lastErr)
			c.LastVisit, c.Requests, c.Errors = time.Unix(last, 0).UTC(), uint64(req), uint64(errs)
			if lastErr > 0 {
				c.LastError = time.Unix(lastErr, 0).UTC()
			}
			return c, err
		})
		if err != nil {
			return nil, err
		}
		out[i].Checkers = cs
		prows, err = s.pool.Query(ctx, `SELECT scheme, at_unix, ok, latency_ms, cert_expiry_unix, error, oldest_sync_unix FROM probes WHERE node = $1 ORDER BY scheme`, out[i].Node)
		if err != nil {
			return nil, err
		}
		ps, err := pgx.CollectRows(prows, func(r pgx.CollectableRow) (watchtower.Probe, error) {
			var p watchtower.Probe
			var at, exp, oldest int64
			err := r.Scan(&p.Scheme, &at, &p.OK, &p.LatencyMS, &exp, &p.Error, &oldest)
			if oldest > 0 {
				p.OldestSync = time.Unix(oldest, 0).UTC()
			}
			p.At = time.Unix(at, 0).UTC()
			if exp > 0 {
				p.CertExpiry = time.Unix(exp, 0).UTC()
			}
			return p, err
		})
		if err != nil {
			return nil, err
		}
		out[i].Probes = ps
	}
	return out, nil
}

// Usage implements watchtower.Store.
func (s *Store) Usage(ctx context.Context, group string, from, to time.Time) ([]watchtower.UsageRow, error) {
	col := map[string]string{"project": "project", "node": "node"}[strings.ToLower(group)]
	if col == "" {
		return nil, errors.New("group must be project or node")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+col+`, SUM(requests)::BIGINT, SUM(bytes)::BIGINT FROM traffic
		WHERE minute_unix >= $1 AND minute_unix < $2 GROUP BY `+col+` ORDER BY `+col, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.UsageRow, error) {
		var u watchtower.UsageRow
		var req, by int64
		err := r.Scan(&u.Key, &req, &by)
		u.Requests, u.Bytes = uint64(req), uint64(by)
		return u, err
	})
	return out, err
}

// Served implements watchtower.Store.
func (s *Store) Served(ctx context.Context, node string, from, to time.Time, step time.Duration) ([]watchtower.Point, error) {
	st := int64(step / time.Second)
	if st < 60 {
		return nil, errors.New("step must be at least a minute")
	}
	rows, err := s.pool.Query(ctx, `SELECT (minute_unix / $1) * $1, SUM(requests)::BIGINT, SUM(bytes)::BIGINT FROM traffic
		WHERE minute_unix >= $2 AND minute_unix < $3 AND ($4 = '' OR node = $4) GROUP BY 1 ORDER BY 1`,
		st, from.Unix(), to.Unix(), node)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.Point, error) {
		var p watchtower.Point
		var t, req, by int64
		err := r.Scan(&t, &req, &by)
		p.T, p.Requests, p.Bytes = time.Unix(t, 0).UTC(), uint64(req), uint64(by)
		return p, err
	})
}

// Series implements watchtower.Store.
func (s *Store) Series(ctx context.Context, group string, from, to time.Time, step time.Duration) ([]watchtower.SeriesRow, error) {
	col := map[string]string{"project": "project", "node": "node"}[group]
	st := int64(step / time.Second)
	if col == "" || st < 60 {
		return nil, errors.New("group must be project or node, step at least a minute")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+col+`, (minute_unix / $1) * $1, SUM(requests)::BIGINT, SUM(bytes)::BIGINT FROM traffic
		WHERE minute_unix >= $2 AND minute_unix < $3 GROUP BY 1, 2 ORDER BY 1, 2`, st, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.SeriesRow, error) {
		var x watchtower.SeriesRow
		var t, req, by int64
		err := r.Scan(&x.Key, &t, &req, &by)
		x.T, x.Requests, x.Bytes = time.Unix(t, 0).UTC(), uint64(req), uint64(by)
		return x, err
	})
}

// Demand implements watchtower.Store.
func (s *Store) Demand(ctx context.Context, from, to time.Time) ([]watchtower.DemandRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT (minute_unix / 86400) * 86400, node, project, SUM(requests)::BIGINT, SUM(bytes)::BIGINT FROM traffic
		WHERE minute_unix >= $1 AND minute_unix < $2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (watchtower.DemandRow, error) {
		var x watchtower.DemandRow
		var d, req, by int64
		err := r.Scan(&d, &x.Node, &x.Project, &req, &by)
		x.Day, x.Requests, x.Bytes = time.Unix(d, 0).UTC(), uint64(req), uint64(by)
		return x, err
	})
}

// Compact implements watchtower.Store.
func (s *Store) Compact(ctx context.Context, now time.Time, minuteKeep, hourKeep time.Duration) error {
	cut := now.Add(-minuteKeep).Truncate(time.Hour).Unix()
	old := now.Add(-hourKeep).Unix()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Sum each old hour's minute rows into its first minute, in place: the
	// queries need no change and totals stay the same.
	steps := []struct {
		q    string
		args []any
	}{
		{`CREATE TEMP TABLE rollup ON COMMIT DROP AS SELECT node, project, (minute_unix / 3600) * 3600 AS hour,
			SUM(requests)::BIGINT AS requests, SUM(bytes)::BIGINT AS bytes FROM traffic WHERE minute_unix < $1 GROUP BY 1, 2, 3`, []any{cut}},
		{`DELETE FROM traffic WHERE minute_unix < $1`, []any{cut}},
		{`INSERT INTO traffic (node, project, minute_unix, requests, bytes) SELECT node, project, hour, requests, bytes FROM rollup`, nil},
		{`DELETE FROM traffic WHERE minute_unix < $1`, []any{old}},
		{`DELETE FROM system WHERE end_unix < $1`, []any{cut}},
		{`DELETE FROM batches WHERE end_unix < $1`, []any{cut}},
		{`DELETE FROM top_paths WHERE day_unix < $1`, []any{old}},
	}
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.q, st.args...); err != nil {
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
		p.Node, p.Scheme, p.At.Unix(), p.OK, p.LatencyMS, exp, p.Error, unixOrZero(p.OldestSync))
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

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
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
