package query

import (
	"encoding/json"
	"time"

	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// rowsPerStatement keeps a multi-row statement's arguments (8 a row at
// most) well under SQLite's limit (32,766) and PostgreSQL's (65,535).
const rowsPerStatement = 500

// Ingest returns the statements that store batch b, to run in one
// transaction once its (node, seq) is recorded as new. They are the same
// for both stores but for the placeholders (dollar: PostgreSQL's); the
// SQL is what both accept (no GREATEST, no MAX of two values).
func Ingest(b telemetry.Batch, dollar bool) []Statement {
	r := Reduce(b)
	var out []Statement
	add := func(build func(a *Args) string) {
		a := &Args{Dollar: dollar}
		sql := build(a)
		out = append(out, Statement{SQL: sql, Args: a.List})
	}
	var mqtt *bool
	if b.MQTT != nil {
		mqtt = &b.MQTT.Connected
	}
	health := ""
	if b.Health != nil {
		j, _ := json.Marshal(b.Health)
		health = string(j)
	}
	add(func(a *Args) string {
		return `INSERT INTO nodes (node, last_seen_unix, version, mqtt_connected, disk_free, disk_total, dropped, health) VALUES ` +
			a.Values(1, func(int) []any {
				return []any{b.Node, b.End.Unix(), b.System.Version, mqtt, int64(b.System.DiskFree), int64(b.System.DiskTotal), int64(b.Dropped), health}
			}) + ` ON CONFLICT (node) DO UPDATE SET last_seen_unix = excluded.last_seen_unix, version = excluded.version,
			mqtt_connected = excluded.mqtt_connected, disk_free = excluded.disk_free, disk_total = excluded.disk_total, dropped = excluded.dropped,
			health = CASE WHEN excluded.health <> '' THEN excluded.health ELSE nodes.health END
			WHERE excluded.last_seen_unix >= nodes.last_seen_unix`
	})
	if b.Health != nil {
		f := watchtower.HealthFigures(*b.Health, b.End)
		var synced, errs *int64
		if f.ClockSynced != nil {
			v := int64(0)
			if *f.ClockSynced {
				v = 1
			}
			synced = &v
		}
		if f.NICErrors != nil {
			v := int64(*f.NICErrors)
			errs = &v
		}
		add(func(a *Args) string {
			return `INSERT INTO health_samples (node, end_unix, max_temp_c, disk_temp_c, wear_percent, clock_synced, nic_errors) VALUES ` +
				a.Values(1, func(int) []any {
					return []any{b.Node, b.End.Unix(), f.MaxTempC, f.DiskTempC, f.WearPercent, synced, errs}
				}) +
				` ON CONFLICT DO NOTHING`
		})
	}
	add(func(a *Args) string {
		return `INSERT INTO system (node, end_unix, net_rx, net_tx, load1, disk_free, clients) VALUES ` +
			a.Values(1, func(int) []any {
				return []any{b.Node, b.End.Unix(), int64(b.System.NetRxBytes), int64(b.System.NetTxBytes), b.System.Load1, int64(b.System.DiskFree), int64(b.Clients)}
			}) + ` ON CONFLICT DO NOTHING`
	})
	Chunks(len(r.Top), rowsPerStatement, func(lo, hi int) error {
		add(func(a *Args) string {
			return `INSERT INTO top_paths (day_unix, node, project, path, requests, bytes) VALUES ` +
				a.Values(hi-lo, func(i int) []any {
					p := r.Top[lo+i]
					return []any{r.Day, b.Node, p.Project, p.Path, int64(p.Requests), int64(p.Bytes)}
				}) + ` ON CONFLICT (day_unix, node, project, path) DO UPDATE SET requests = top_paths.requests + excluded.requests,
				bytes = top_paths.bytes + excluded.bytes`
		})
		return nil
	})
	if len(r.Checkers) > 0 {
		add(func(a *Args) string {
			return `INSERT INTO checker_visits (node, checker, last_unix, requests, errors, last_error_unix) VALUES ` +
				a.Values(len(r.Checkers), func(i int) []any {
					c := r.Checkers[i]
					return []any{b.Node, c.Checker, c.Last, c.Requests, c.Errors, c.LastError}
				}) + ` ON CONFLICT (node, checker) DO UPDATE SET last_unix = ` + greatest("checker_visits.last_unix", "excluded.last_unix") + `,
				requests = checker_visits.requests + excluded.requests, errors = checker_visits.errors + excluded.errors,
				last_error_unix = ` + greatest("checker_visits.last_error_unix", "excluded.last_error_unix")
		})
	}
	if len(r.Traffic) > 0 {
		for _, res := range []struct {
			Resolution
			at int64
		}{{Minutes, r.Minute}, {Hours, r.Hour}, {Days, r.Day}} {
			add(func(a *Args) string {
				return `INSERT INTO ` + res.Table + ` (node, project, ` + res.Column + `, requests, bytes) VALUES ` +
					a.Values(len(r.Traffic), func(i int) []any {
						t := r.Traffic[i]
						return []any{b.Node, t.Project, res.at, t.Requests, t.Bytes}
					}) + ` ON CONFLICT (node, project, ` + res.Column + `) DO UPDATE SET requests = ` + res.Table + `.requests + excluded.requests,
					bytes = ` + res.Table + `.bytes + excluded.bytes`
			})
		}
	}
	if len(r.Traffic) > 0 {
		// The node's own rows: all its projects in one per hour and day.
		var req, by int64
		for _, t := range r.Traffic {
			req, by = req+t.Requests, by+t.Bytes
		}
		for _, res := range []struct {
			Resolution
			at int64
		}{{Hours, r.Hour}, {Days, r.Day}} {
			add(func(a *Args) string {
				return `INSERT INTO ` + res.NodeTable + ` (node, ` + res.Column + `, requests, bytes) VALUES ` +
					a.Values(1, func(int) []any { return []any{b.Node, res.at, req, by} }) +
					` ON CONFLICT (` + res.Column + `, node) DO UPDATE SET requests = ` + res.NodeTable + `.requests + excluded.requests,
					bytes = ` + res.NodeTable + `.bytes + excluded.bytes`
			})
		}
	}
	Chunks(len(r.Syncs), rowsPerStatement, func(lo, hi int) error {
		add(func(a *Args) string {
			return `INSERT INTO syncs (node, project, started_unix, seconds, result, trigger, bytes, files) VALUES ` +
				a.Values(hi-lo, func(i int) []any {
					e := r.Syncs[lo+i]
					return []any{b.Node, e.Project, e.Started.Unix(), e.Seconds, e.Result, e.Trigger, e.BytesReceived, e.Files}
				}) + ` ON CONFLICT DO NOTHING`
		})
		return nil
	})
	// A success in the batch restarts the count of failures; without one
	// they add to the stored count, unless the runs are not newer than the
	// stored state (a batch resent with a new seq, or one held back).
	for _, since := range []bool{true, false} {
		var rows []StateRow
		for _, st := range r.States {
			if st.Since == since {
				rows = append(rows, st)
			}
		}
		if len(rows) == 0 {
			continue
		}
		failures := "excluded.failures"
		if !since {
			failures = "CASE WHEN excluded.last_run_unix > project_state.last_run_unix THEN project_state.failures + excluded.failures ELSE project_state.failures END"
		}
		add(func(a *Args) string {
			return `INSERT INTO project_state (node, project, last_success_unix, last_result, last_run_unix, tree_bytes, serial, failures, triggers) VALUES ` +
				a.Values(len(rows), func(i int) []any {
					st := rows[i]
					return []any{b.Node, st.Project, st.LastSuccess, st.LastResult, st.LastRun, st.TreeBytes, st.Serial, int64(st.Failures), st.Triggers}
				}) + ` ON CONFLICT (node, project) DO UPDATE SET last_success_unix = ` + greatest("project_state.last_success_unix", "excluded.last_success_unix") + `,
				last_result = excluded.last_result, last_run_unix = excluded.last_run_unix,
				tree_bytes = CASE WHEN excluded.tree_bytes > 0 THEN excluded.tree_bytes ELSE project_state.tree_bytes END,
				serial = CASE WHEN excluded.serial <> '' THEN excluded.serial ELSE project_state.serial END,
				triggers = CASE WHEN excluded.triggers <> '' THEN excluded.triggers ELSE project_state.triggers END,
				failures = ` + failures + `
				WHERE excluded.last_run_unix >= project_state.last_run_unix`
		})
	}
	return out
}

// greatest is the larger of two expressions in SQL both stores run.
func greatest(a, b string) string {
	return "CASE WHEN " + a + " > " + b + " THEN " + a + " ELSE " + b + " END"
}

// Time is the time of unix seconds t, the zero time for 0 (never).
func Time(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(t, 0).UTC()
}

// Unix is t in unix seconds, 0 for the zero time.
func Unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
