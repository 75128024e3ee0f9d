package query

import (
	"time"

	"micromirror/internal/watchtower"
)

// Probes reads the latest probes: node, scheme, family, at_unix, ok,
// latency_ms, cert_expiry_unix, error, oldest_sync_unix.
const Probes = `SELECT node, scheme, family, at_unix, ok, latency_ms, cert_expiry_unix, error, oldest_sync_unix FROM probes
	ORDER BY node, scheme, family`

// SaveProbe returns the statements that record a probe as the latest of
// its node, scheme and family. A node probed that never pushed still
// belongs in the list (and shows as silent).
func SaveProbe(p watchtower.Probe, dollar bool) []Statement {
	n := &Args{Dollar: dollar}
	a := &Args{Dollar: dollar}
	return []Statement{
		{SQL: `INSERT INTO nodes (node, last_seen_unix) VALUES (` + n.Add(p.Node) + `, 0) ON CONFLICT DO NOTHING`, Args: n.List},
		{SQL: `INSERT INTO probes (node, scheme, family, at_unix, ok, latency_ms, cert_expiry_unix, error, oldest_sync_unix) VALUES ` +
			a.Values(1, func(int) []any {
				return []any{p.Node, p.Scheme, p.Family, p.At.Unix(), p.OK, p.LatencyMS, Unix(p.CertExpiry), p.Error, Unix(p.OldestSync)}
			}) + ` ON CONFLICT (node, scheme, family) DO UPDATE SET at_unix = excluded.at_unix, ok = excluded.ok,
			latency_ms = excluded.latency_ms, cert_expiry_unix = excluded.cert_expiry_unix, error = excluded.error,
			oldest_sync_unix = excluded.oldest_sync_unix`, Args: a.List},
	}
}

// Scanner is a row of either driver (database/sql's and pgx's rows).
type Scanner interface{ Scan(dest ...any) error }

// ScanProbe reads a row of Probes.
func ScanProbe(r Scanner) (node string, p watchtower.Probe, err error) {
	var at, exp, oldest int64
	err = r.Scan(&node, &p.Scheme, &p.Family, &at, &p.OK, &p.LatencyMS, &exp, &p.Error, &oldest)
	p.At, p.CertExpiry, p.OldestSync = time.Unix(at, 0).UTC(), Time(exp), Time(oldest)
	return node, p, err
}

// Syncs selects a node's runs started in [from, to), newest first:
// project, started_unix, seconds, result, trigger, bytes, files.
func Syncs(a *Args, node string, from, to time.Time, limit int) string {
	return `SELECT project, started_unix, seconds, result, trigger, bytes, files FROM syncs WHERE node = ` + a.Add(node) +
		` AND started_unix >= ` + a.Add(from.Unix()) + ` AND started_unix < ` + a.Add(to.Unix()) +
		` ORDER BY started_unix DESC, project LIMIT ` + a.Add(limit)
}

// ScanSyncRun reads a row of Syncs.
func ScanSyncRun(r Scanner) (watchtower.SyncRun, error) {
	var x watchtower.SyncRun
	var started int64
	err := r.Scan(&x.Project, &started, &x.Seconds, &x.Result, &x.Trigger, &x.Bytes, &x.Files)
	x.Started = time.Unix(started, 0).UTC()
	return x, err
}
