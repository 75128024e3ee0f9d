package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

// cellKey is one minute of one node and project in the model.
type cellKey struct {
	node, project string
	minute        int64
}

// Rollups checks the hourly and daily roll-ups against a model of the
// minute rows: random batches over three days (a project named twice in
// one batch among them), then random ranges, unaligned, with every step
// the API allows: usage, series, served and demand all sum exactly the
// minutes in range. After a compaction that drops the minute rows,
// whole-hour ranges still sum the same. open must give a new database.
func Rollups(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	defer s.Close()
	rng := rand.New(rand.NewPCG(17, 18))
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	span := int64(3 * 24 * 60) // minutes
	model := map[cellKey][2]uint64{}
	nodes, projects := []string{"r1", "r2", "r3"}, []string{"debian", "ubuntu"}
	for seq := uint64(1); seq <= 400; seq++ {
		node := nodes[rng.IntN(len(nodes))]
		end := start.Add(time.Duration(rng.Int64N(span))*time.Minute + time.Duration(rng.IntN(60))*time.Second)
		b := telemetry.Batch{Version: 1, Node: node, Seq: seq, Start: end.Add(-time.Minute), End: end}
		for range 1 + rng.IntN(3) { // sometimes the same project twice
			p := projects[rng.IntN(len(projects))]
			req, by := uint64(1+rng.IntN(100)), uint64(1+rng.IntN(1e6))
			b.Projects = append(b.Projects, telemetry.ProjectTraffic{Project: p, Requests: map[string]uint64{"http": req}, Bytes: map[string]uint64{"https": by}})
			k := cellKey{node, p, end.Truncate(time.Minute).Unix()}
			c := model[k]
			model[k] = [2]uint64{c[0] + req, c[1] + by}
		}
		if _, err := s.Ingest(ctx, b, end); err != nil {
			t.Fatal(err)
		}
	}
	steps := []time.Duration{time.Minute, 10 * time.Minute, time.Hour, 2 * time.Hour, 24 * time.Hour}
	check := func(t *testing.T, from, to time.Time, step time.Duration) {
		t.Helper()
		byNode, byProject := map[string][2]uint64{}, map[string][2]uint64{}
		series, served, demand := map[string][2]uint64{}, map[string][2]uint64{}, map[string][2]uint64{}
		nodeSeries, fleet := map[string][2]uint64{}, map[string][2]uint64{} // read from the per-node rows
		st := int64(step / time.Second)
		for k, c := range model {
			if k.minute < from.Unix() || k.minute >= to.Unix() {
				continue
			}
			add := func(m map[string][2]uint64, key string) {
				have := m[key]
				m[key] = [2]uint64{have[0] + c[0], have[1] + c[1]}
			}
			add(byNode, k.node)
			add(byProject, k.project)
			add(series, fmt.Sprintf("%s@%d", k.project, k.minute/st*st))
			add(nodeSeries, fmt.Sprintf("%s@%d", k.node, k.minute/st*st))
			add(fleet, fmt.Sprint(k.minute/st*st))
			if k.node == "r2" {
				add(served, fmt.Sprint(k.minute/st*st))
			}
			add(demand, fmt.Sprintf("%s/%s@%d", k.node, k.project, k.minute/86400*86400))
		}
		what := fmt.Sprintf("[%s, %s) step %s", from.Format(time.RFC3339), to.Format(time.RFC3339), step)
		for group, want := range map[string]map[string][2]uint64{"node": byNode, "project": byProject} {
			rows, err := s.Usage(ctx, group, from, to)
			got := map[string][2]uint64{}
			for _, r := range rows {
				got[r.Key] = [2]uint64{r.Requests, r.Bytes}
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("usage by %s %s = %v %v, want %v", group, what, got, err, want)
			}
		}
		rows, err := s.Series(ctx, "project", from, to, step)
		if got := seriesMap(rows); err != nil || fmt.Sprint(got) != fmt.Sprint(series) {
			t.Fatalf("series %s = %v %v, want %v", what, got, err, series)
		}
		rows, err = s.Series(ctx, "node", from, to, step)
		if got := seriesMap(rows); err != nil || fmt.Sprint(got) != fmt.Sprint(nodeSeries) {
			t.Fatalf("series by node %s = %v %v, want %v", what, got, err, nodeSeries)
		}
		var got map[string][2]uint64
		for node, want := range map[string]map[string][2]uint64{"r2": served, "": fleet} {
			pts, err := s.Served(ctx, node, from, to, step)
			got = map[string][2]uint64{}
			for _, p := range pts {
				got[fmt.Sprint(p.T.Unix())] = [2]uint64{p.Requests, p.Bytes}
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("served by %q %s = %v %v, want %v", node, what, got, err, want)
			}
		}
		dem, err := s.Demand(ctx, from, to)
		got = map[string][2]uint64{}
		for _, d := range dem {
			got[fmt.Sprintf("%s/%s@%d", d.Node, d.Project, d.Day.Unix())] = [2]uint64{d.Requests, d.Bytes}
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(demand) {
			t.Fatalf("demand %s = %v %v, want %v", what, got, err, demand)
		}
	}
	t.Run("random ranges", func(t *testing.T) {
		check(t, start.Add(-time.Hour), start.Add(4*24*time.Hour), 24*time.Hour) // all of it
		for range 60 {
			a := start.Add(time.Duration(rng.Int64N(span*60+7200)-3600) * time.Second)
			b := a.Add(time.Duration(1+rng.Int64N(span*60)) * time.Second)
			check(t, a, b, steps[rng.IntN(len(steps))])
		}
	})
	t.Run("after the minutes are dropped", func(t *testing.T) {
		if err := s.Compact(ctx, start.Add(30*24*time.Hour), 14*24*time.Hour, 2*365*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		if pts, _ := s.Served(ctx, "", start, start.Add(4*24*time.Hour), time.Minute); len(pts) != 0 {
			t.Fatalf("%d minute rows left after compaction", len(pts))
		}
		for range 30 {
			a := start.Add(time.Duration(rng.Int64N(4*24)-12) * time.Hour)
			b := a.Add(time.Duration(1+rng.Int64N(4*24)) * time.Hour)
			check(t, a, b, steps[2+rng.IntN(3)])
		}
	})
}

// seriesMap keys a series' rows by group and bucket; rows out of time
// order (the Store's promise) come back as a key of their own.
func seriesMap(rows []watchtower.SeriesRow) map[string][2]uint64 {
	out := map[string][2]uint64{}
	for i, r := range rows {
		if i > 0 && r.T.Before(rows[i-1].T) {
			out["out of time order"] = [2]uint64{}
		}
		out[fmt.Sprintf("%s@%d", r.Key, r.T.Unix())] = [2]uint64{r.Requests, r.Bytes}
	}
	return out
}

// RollupMigration checks the migration to roll-ups on a database that
// had traffic before them: minute rows, and an old hour summed into its
// first minute by the former compaction, give hourly and daily rows with
// the same totals; the failed runs since each project's last success are
// counted. exec runs SQL on the store's database; open reopens it.
func RollupMigration(t *testing.T, open Opener, exec func(t *testing.T, s watchtower.Store, sql string)) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Unix()
	old := t0 - 20*86400
	for _, q := range []string{
		`DROP TABLE traffic_hour`, `DROP TABLE traffic_day`, `ALTER TABLE project_state DROP COLUMN failures`,
		`DROP TABLE node_traffic_hour`, `DROP TABLE node_traffic_day`,
		`DELETE FROM schema_migrations WHERE name IN ('migrations/009_rollups.sql', 'migrations/013_node_rollups.sql')`,
		fmt.Sprintf(`INSERT INTO traffic (node, project, minute_unix, requests, bytes) VALUES ('m', 'debian', %d, 60, 600), ('m', 'debian', %d, 1, 7), ('m', 'debian', %d, 1, 9), ('m', 'ubuntu', %d, 2, 20)`,
			old, t0+60, t0+86400+300, t0+60),
		`INSERT INTO nodes (node, last_seen_unix) VALUES ('m', 1)`,
		`INSERT INTO project_state (node, project, last_success_unix, last_result, last_run_unix) VALUES ('m', 'debian', 1000, 'fatal', 3000), ('m', 'ubuntu', 0, 'fatal', 3000)`,
		`INSERT INTO syncs (node, project, started_unix, seconds, result, bytes, files) VALUES ('m', 'debian', 1000, 1, 'success', 0, 0),
			('m', 'debian', 2000, 1, 'transient', 0, 0), ('m', 'debian', 3000, 1, 'fatal', 0, 0), ('m', 'ubuntu', 3000, 1, 'fatal', 0, 0)`,
	} {
		exec(t, s, q)
	}
	s.Close()
	s = open(t)
	defer s.Close()
	if rows, err := s.Usage(ctx, "project", time.Unix(old-86400, 0), time.Unix(t0+2*86400, 0)); err != nil || fmt.Sprint(rows) != "[{debian 62 616} {ubuntu 2 20}]" {
		t.Errorf("usage over the roll-ups = %v %v", rows, err)
	}
	dem, err := s.Demand(ctx, time.Unix(old-86400, 0), time.Unix(t0+2*86400, 0))
	var days []string
	for _, d := range dem {
		days = append(days, fmt.Sprintf("%s %s %s %d", d.Day.Format(time.DateOnly), d.Node, d.Project, d.Bytes))
	}
	if err != nil || fmt.Sprint(days) != "[2026-10-12 m debian 600 2026-11-01 m debian 7 2026-11-01 m ubuntu 20 2026-11-02 m debian 9]" {
		t.Errorf("days = %v %v", days, err)
	}
	if pts, err := s.Served(ctx, "m", time.Unix(old, 0), time.Unix(old+3600, 0), time.Hour); err != nil || len(pts) != 1 || pts[0].Bytes != 600 {
		t.Errorf("the compacted hour = %+v %v", pts, err)
	}
	// The per-node rows (migration 013) sum the projects of each hour and day.
	if rows, err := s.Usage(ctx, "node", time.Unix(old-86400, 0).Truncate(24*time.Hour), time.Unix(t0+2*86400, 0).Truncate(24*time.Hour)); err != nil ||
		fmt.Sprint(rows) != "[{m 64 636}]" {
		t.Errorf("usage by node over the roll-ups = %v %v", rows, err)
	}
	if pts, err := s.Served(ctx, "m", time.Unix(t0, 0).Truncate(time.Hour), time.Unix(t0, 0).Truncate(time.Hour).Add(time.Hour), time.Hour); err != nil ||
		len(pts) != 1 || pts[0].Bytes != 27 {
		t.Errorf("the hour of debian and ubuntu = %+v %v", pts, err)
	}
	nodes, err := s.Nodes(ctx)
	if err != nil || len(nodes) != 1 || len(nodes[0].Projects) != 2 || nodes[0].Projects[0].Failures != 2 || nodes[0].Projects[1].Failures != 1 {
		t.Errorf("failures after the migration = %+v %v", nodes, err)
	}
}
