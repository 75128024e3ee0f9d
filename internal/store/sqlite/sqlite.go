// Package sqlite is the watchtower's default store: SQLite through the pure
// Go modernc.org/sqlite driver, in WAL mode, with embedded migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"micromirror/internal/store/migrate"
	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a watchtower.Store on one SQLite file.
type Store struct {
	db *sql.DB
}

var _ watchtower.Store = (*Store)(nil)

// Open opens (creates) the database and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One writer at a time is SQLite's model; a single connection also
	// keeps WAL readers consistent with the writer in this process.
	db.SetMaxOpenConns(1)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
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
	var mqtt any
	if b.MQTT != nil {
		mqtt = b.MQTT.Connected
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (node) DO UPDATE SET last_seen_unix = excluded.last_seen_unix, version = excluded.version,
		mqtt_connected = excluded.mqtt_connected, disk_free = excluded.disk_free, disk_total = excluded.disk_total, dropped = excluded.dropped
		WHERE excluded.last_seen_unix >= nodes.last_seen_unix`,
		b.Node, b.End.Unix(), b.System.Version, mqtt, b.System.DiskFree, b.System.DiskTotal, b.Dropped); err != nil {
		return false, fmt.Errorf("ingest node: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO system (node, end_unix, net_rx, net_tx, load1, disk_free, clients) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, b.Node, b.End.Unix(), b.System.NetRxBytes, b.System.NetTxBytes, b.System.Load1, b.System.DiskFree, b.Clients); err != nil {
		return false, fmt.Errorf("ingest system: %w", err)
	}
	day := b.End.Truncate(24 * time.Hour).Unix()
	for _, p := range b.Top {
		if _, err := tx.ExecContext(ctx, `INSERT INTO top_paths (day_unix, node, project, path, requests, bytes) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (day_unix, node, project, path) DO UPDATE SET requests = requests + excluded.requests, bytes = bytes + excluded.bytes`,
			day, b.Node, p.Project, p.Path, p.Requests, p.Bytes); err != nil {
			return false, fmt.Errorf("ingest top: %w", err)
		}
	}
	for _, c := range b.Checkers {
		errs := c.Status["4xx"] + c.Status["5xx"]
		var lastErr int64
		if errs > 0 {
			lastErr = c.Last.Unix()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO checker_visits (node, checker, last_unix, requests, errors, last_error_unix) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (node, checker) DO UPDATE SET last_unix = MAX(last_unix, excluded.last_unix), requests = requests + excluded.requests,
			errors = errors + excluded.errors, last_error_unix = MAX(last_error_unix, excluded.last_error_unix)`,
			b.Node, c.Checker, c.Last.Unix(), c.Requests, errs, lastErr); err != nil {
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO traffic (node, project, minute_unix, requests, bytes) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (node, project, minute_unix) DO UPDATE SET requests = requests + excluded.requests, bytes = bytes + excluded.bytes`,
			b.Node, p.Project, minute, req, by); err != nil {
			return false, fmt.Errorf("ingest traffic: %w", err)
		}
	}
	for _, e := range b.Syncs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO syncs (node, project, started_unix, seconds, result, trigger, bytes, files)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			b.Node, e.Project, e.Started.Unix(), e.Seconds, e.Result, e.Trigger, e.BytesReceived, e.Files); err != nil {
			return false, fmt.Errorf("ingest sync: %w", err)
		}
		var success int64
		if !e.LastSuccess.IsZero() {
			success = e.LastSuccess.Unix()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO project_state (node, project, last_success_unix, last_result, last_run_unix, tree_bytes, serial)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (node, project) DO UPDATE SET last_success_unix = MAX(last_success_unix, excluded.last_success_unix),
			last_result = excluded.last_result, last_run_unix = excluded.last_run_unix,
			tree_bytes = CASE WHEN excluded.tree_bytes > 0 THEN excluded.tree_bytes ELSE tree_bytes END,
			serial = CASE WHEN excluded.serial <> '' THEN excluded.serial ELSE serial END
			WHERE excluded.last_run_unix >= project_state.last_run_unix`,
			b.Node, e.Project, success, e.Result, e.Started.Unix(), e.TreeBytes, e.Serial); err != nil {
			return false, fmt.Errorf("ingest state: %w", err)
		}
	}
	return false, tx.Commit()
}

// Nodes implements watchtower.Store.
func (s *Store) Nodes(ctx context.Context) ([]watchtower.NodeSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped FROM nodes ORDER BY node`)
	if err != nil {
		return nil, err
	}
	var out []watchtower.NodeSummary
	for rows.Next() {
		var n watchtower.NodeSummary
		var seen int64
		var mq sql.NullBool
		if err := rows.Scan(&n.Node, &seen, &n.Version, &mq, &n.DiskFree, &n.DiskTotal, &n.Dropped); err != nil {
			rows.Close()
			return nil, err
		}
		if seen > 0 {
			n.LastSeen = time.Unix(seen, 0).UTC()
		}
		if mq.Valid {
			n.MQTTConnected = &mq.Bool
		}
		out = append(out, n)
	}
	rows.Close()
	for i := range out {
		prows, err := s.db.QueryContext(ctx, `SELECT project, last_success_unix, last_result, last_run_unix, tree_bytes, serial FROM project_state WHERE node = ? ORDER BY project`, out[i].Node)
		if err != nil {
			return nil, err
		}
		for prows.Next() {
			var p watchtower.ProjectSummary
			var ok, run int64
			prows.Scan(&p.Project, &ok, &p.LastResult, &run, &p.TreeBytes, &p.Serial)
			if ok > 0 {
				p.LastSuccess = time.Unix(ok, 0).UTC()
			}
			p.LastRun = time.Unix(run, 0).UTC()
			out[i].Projects = append(out[i].Projects, p)
		}
		prows.Close()
		for j := range out[i].Projects {
			p := &out[i].Projects[j]
			rrows, err := s.db.QueryContext(ctx, `SELECT result FROM syncs WHERE node = ? AND project = ? ORDER BY started_unix DESC LIMIT 20`, out[i].Node, p.Project)
			if err != nil {
				return nil, err
			}
			var results []string
			for rrows.Next() {
				var r string
				rrows.Scan(&r)
				results = append(results, r)
			}
			rrows.Close()
			p.Failures = watchtower.CountFailures(results)
		}
		crows, err := s.db.QueryContext(ctx, `SELECT checker, last_unix, requests, errors, last_error_unix FROM checker_visits WHERE node = ? ORDER BY checker`, out[i].Node)
		if err != nil {
			return nil, err
		}
		for crows.Next() {
			var c watchtower.CheckerSummary
			var last, lastErr int64
			crows.Scan(&c.Checker, &last, &c.Requests, &c.Errors, &lastErr)
			c.LastVisit = time.Unix(last, 0).UTC()
			if lastErr > 0 {
				c.LastError = time.Unix(lastErr, 0).UTC()
			}
			out[i].Checkers = append(out[i].Checkers, c)
		}
		crows.Close()
		prows, err = s.db.QueryContext(ctx, `SELECT scheme, at_unix, ok, latency_ms, cert_expiry_unix, error, oldest_sync_unix FROM probes WHERE node = ? ORDER BY scheme`, out[i].Node)
		if err != nil {
			return nil, err
		}
		for prows.Next() {
			var p watchtower.Probe
			var at, exp, oldest int64
			prows.Scan(&p.Scheme, &at, &p.OK, &p.LatencyMS, &exp, &p.Error, &oldest)
			if oldest > 0 {
				p.OldestSync = time.Unix(oldest, 0).UTC()
			}
			p.At = time.Unix(at, 0).UTC()
			if exp > 0 {
				p.CertExpiry = time.Unix(exp, 0).UTC()
			}
			out[i].Probes = append(out[i].Probes, p)
		}
		prows.Close()
	}
	return out, nil
}

// Usage implements watchtower.Store.
func (s *Store) Usage(ctx context.Context, group string, from, to time.Time) ([]watchtower.UsageRow, error) {
	col := map[string]string{"project": "project", "node": "node"}[strings.ToLower(group)]
	if col == "" {
		return nil, fmt.Errorf("group must be project or node")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+col+`, SUM(requests), SUM(bytes) FROM traffic
		WHERE minute_unix >= ? AND minute_unix < ? GROUP BY `+col+` ORDER BY `+col, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []watchtower.UsageRow
	for rows.Next() {
		var r watchtower.UsageRow
		if err := rows.Scan(&r.Key, &r.Requests, &r.Bytes); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Served implements watchtower.Store.
func (s *Store) Served(ctx context.Context, node string, from, to time.Time, step time.Duration) ([]watchtower.Point, error) {
	st := int64(step / time.Second)
	if st < 60 {
		return nil, fmt.Errorf("step must be at least a minute")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT (minute_unix / ?) * ?, SUM(requests), SUM(bytes) FROM traffic
		WHERE minute_unix >= ? AND minute_unix < ? AND (? = '' OR node = ?) GROUP BY 1 ORDER BY 1`,
		st, st, from.Unix(), to.Unix(), node, node)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []watchtower.Point
	for rows.Next() {
		var p watchtower.Point
		var t int64
		if err := rows.Scan(&t, &p.Requests, &p.Bytes); err != nil {
			return nil, err
		}
		p.T = time.Unix(t, 0).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// Series implements watchtower.Store.
func (s *Store) Series(ctx context.Context, group string, from, to time.Time, step time.Duration) ([]watchtower.SeriesRow, error) {
	col := map[string]string{"project": "project", "node": "node"}[group]
	st := int64(step / time.Second)
	if col == "" || st < 60 {
		return nil, fmt.Errorf("group must be project or node, step at least a minute")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+col+`, (minute_unix / ?) * ?, SUM(requests), SUM(bytes) FROM traffic
		WHERE minute_unix >= ? AND minute_unix < ? GROUP BY 1, 2 ORDER BY 1, 2`, st, st, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []watchtower.SeriesRow
	for rows.Next() {
		var r watchtower.SeriesRow
		var t int64
		if err := rows.Scan(&r.Key, &t, &r.Requests, &r.Bytes); err != nil {
			return nil, err
		}
		r.T = time.Unix(t, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Demand implements watchtower.Store.
func (s *Store) Demand(ctx context.Context, from, to time.Time) ([]watchtower.DemandRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT (minute_unix / 86400) * 86400, node, project, SUM(requests), SUM(bytes) FROM traffic
		WHERE minute_unix >= ? AND minute_unix < ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []watchtower.DemandRow
	for rows.Next() {
		var r watchtower.DemandRow
		var d int64
		if err := rows.Scan(&d, &r.Node, &r.Project, &r.Requests, &r.Bytes); err != nil {
			return nil, err
		}
		r.Day = time.Unix(d, 0).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Compact implements watchtower.Store.
func (s *Store) Compact(ctx context.Context, now time.Time, minuteKeep, hourKeep time.Duration) error {
	cut := now.Add(-minuteKeep).Truncate(time.Hour).Unix()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Sum each old hour's minute rows into its first minute, in place: the
	// queries need no change and totals stay the same.
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE rollup AS SELECT node, project, (minute_unix / 3600) * 3600 AS hour,
		SUM(requests) AS requests, SUM(bytes) AS bytes FROM traffic WHERE minute_unix < ? GROUP BY 1, 2, 3`, cut); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	steps := []string{
		`DELETE FROM traffic WHERE minute_unix < ?`,
		`INSERT INTO traffic (node, project, minute_unix, requests, bytes) SELECT node, project, hour, requests, bytes FROM rollup`,
		`DROP TABLE rollup`,
		`DELETE FROM traffic WHERE minute_unix < ?`,
		`DELETE FROM system WHERE end_unix < ?`,
		`DELETE FROM batches WHERE end_unix < ?`,
		`DELETE FROM top_paths WHERE day_unix < ?`,
	}
	args := [][]any{{cut}, nil, nil, {now.Add(-hourKeep).Unix()}, {cut}, {cut}, {now.Add(-hourKeep).Unix()}}
	for i, q := range steps {
		if _, err := tx.ExecContext(ctx, q, args[i]...); err != nil {
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
	rows, err := s.db.QueryContext(ctx, `SELECT module, at_unix FROM announcements`)
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
	if _, err := s.db.ExecContext(ctx, `INSERT INTO nodes (node, last_seen_unix) VALUES (?, 0) ON CONFLICT DO NOTHING`, p.Node); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO probes (node, scheme, at_unix, ok, latency_ms, cert_expiry_unix, error, oldest_sync_unix)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (node, scheme) DO UPDATE SET at_unix = excluded.at_unix, ok = excluded.ok, latency_ms = excluded.latency_ms,
		cert_expiry_unix = excluded.cert_expiry_unix, error = excluded.error, oldest_sync_unix = excluded.oldest_sync_unix`,
		p.Node, p.Scheme, p.At.Unix(), p.OK, p.LatencyMS, exp, p.Error, unixOrZero(p.OldestSync))
	return err
}

// Top implements watchtower.Store.
func (s *Store) Top(ctx context.Context, project string, from, to time.Time, limit int) ([]telemetry.PathCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT project, path, SUM(requests), SUM(bytes) FROM top_paths
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
	rows, err := s.db.QueryContext(ctx, `SELECT end_unix, net_rx, net_tx FROM system WHERE node = ? AND end_unix >= ? AND end_unix < ? ORDER BY end_unix`,
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
func (s *Store) Close() error { return s.db.Close() }

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// OpenAlerts implements watchtower.Store.
func (s *Store) OpenAlerts(ctx context.Context) ([]watchtower.Alert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, kind, node, project, message, since_unix FROM alerts`)
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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, a := range fired {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alerts (key, kind, node, project, message, since_unix) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET message = excluded.message`, a.Key, a.Kind, a.Node, a.Project, a.Message, a.Since.Unix()); err != nil {
			return err
		}
	}
	for _, k := range resolved {
		if _, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE key = ?`, k); err != nil {
			return err
		}
	}
	return tx.Commit()
}
