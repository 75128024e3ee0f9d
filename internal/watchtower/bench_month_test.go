package watchtower_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"micromirror/internal/store/postgres"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// A month of a fleet: every node hosts three of five projects; the
// hourly and daily roll-ups cover 30 days, the minute table its last two
// days (retention keeps 14; a query reads minutes only at a range's edges,
// through the index on their time).
const (
	monthDays       = 30
	monthMinuteDays = 2
	monthProjects   = 3
)

var benchProjects = []string{"debian", "ubuntu", "archlinux", "fedora", "videolan"}

// monthFleet generates the traffic of n nodes: fn is called with the table,
// node, project, row time and bytes of every row (requests: 1,000 a minute).
type monthFleet struct {
	nodes int
	now   time.Time
}

func (f monthFleet) node(n int) string { return fmt.Sprintf("n%04d.mm.example.net", n) }

func (f monthFleet) projects(n int) []string {
	var out []string
	for i := range monthProjects {
		out = append(out, benchProjects[(n+i)%len(benchProjects)])
	}
	return out
}

// minuteBytes is what a node served of a project in a minute: a daily
// curve, different per node.
func minuteBytes(n, p int, m int64) int64 { return 1e8 + int64(n)*1e5 + (m/60)%1440*1e4 + int64(p) }

// rows calls fn for every row of the three tables, table by table.
func (f monthFleet) rows(fn func(table, node, project string, t, requests, bytes int64) error) error {
	end := f.now.Truncate(24*time.Hour).Unix() + 86400
	start := end - monthDays*86400
	minutesFrom := end - monthMinuteDays*86400
	for n := range f.nodes {
		for p, project := range f.projects(n) {
			for day := start; day < end; day += 86400 {
				var dayReq, dayBytes int64
				for hour := day; hour < day+86400; hour += 3600 {
					var req, by int64
					for m := hour; m < hour+3600; m += 60 {
						b := minuteBytes(n, p, m)
						req, by = req+1000, by+b
						if m >= minutesFrom {
							if err := fn("traffic", f.node(n), project, m, 1000, b); err != nil {
								return err
							}
						}
					}
					if err := fn("traffic_hour", f.node(n), project, hour, req, by); err != nil {
						return err
					}
					dayReq, dayBytes = dayReq+req, dayBytes+by
				}
				if err := fn("traffic_day", f.node(n), project, day, dayReq, dayBytes); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ingestState gives every node its state through the real ingest and
// prober path: a batch with a run per project and a checker visit, and
// probes over both families.
func (f monthFleet) ingestState(tb testing.TB, s watchtower.Store) {
	ctx := context.Background()
	for n := range f.nodes {
		b := telemetry.Batch{Version: 1, Node: f.node(n), Seq: 1, Start: f.now.Add(-time.Minute), End: f.now,
			System:   telemetry.System{Version: "v1", DiskFree: 5e11, DiskTotal: 2e12},
			Checkers: []telemetry.CheckerVisit{{Checker: "archweb", Requests: 3, Status: map[string]uint64{"2xx": 3}, Last: f.now}}}
		for _, p := range f.projects(n) {
			b.Syncs = append(b.Syncs, telemetry.SyncEvent{Project: p, Started: f.now.Add(-time.Hour), Result: "success", LastSuccess: f.now.Add(-time.Hour), TreeBytes: 4e11})
			b.Top = append(b.Top, telemetry.PathCount{Project: p, Path: "/" + p + "/a.iso", Requests: 10, Bytes: 1e9})
		}
		if _, err := s.Ingest(ctx, b, f.now); err != nil {
			tb.Fatal(err)
		}
		for _, scheme := range []string{"http", "https"} {
			if err := s.SaveProbe(ctx, watchtower.Probe{Node: f.node(n), Scheme: scheme, Family: "ipv4", At: f.now, OK: true, LatencyMS: 5}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchmarkMonth: the watchtower's pages and queries at a month of data,
// 1,000 nodes on PostgreSQL and 100 on SQLite (the sizes each is for),
// then ingest alone and with the dashboard read in a loop beside it.
// fillNodeRollups sums the loaded per-project roll-ups per node, as
// ingest and migration 013 do.
var fillNodeRollups = []string{
	`INSERT INTO node_traffic_hour (node, hour_unix, requests, bytes) SELECT node, hour_unix, SUM(requests), SUM(bytes) FROM traffic_hour GROUP BY 1, 2`,
	`INSERT INTO node_traffic_day (node, day_unix, requests, bytes) SELECT node, day_unix, SUM(requests), SUM(bytes) FROM traffic_day GROUP BY 1, 2`,
}

func BenchmarkMonth(b *testing.B) {
	ctx := context.Background()
	now := time.Now().UTC()
	pgURL := testenv.StartPostgres(b)
	dbPath := filepath.Join(b.TempDir(), "month.db")
	stores := []struct {
		name  string
		fleet monthFleet
		open  func() (watchtower.Store, error)
		load  func(f monthFleet) error
	}{
		{"sqlite", monthFleet{100, now}, func() (watchtower.Store, error) { return sqlite.Open(ctx, dbPath) }, func(f monthFleet) error {
			db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
			if err != nil {
				return err
			}
			defer db.Close()
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			stmts := map[string]*sql.Stmt{}
			for table, col := range map[string]string{"traffic": "minute_unix", "traffic_hour": "hour_unix", "traffic_day": "day_unix"} {
				if stmts[table], err = tx.Prepare(`INSERT INTO ` + table + ` (node, project, ` + col + `, requests, bytes) VALUES (?, ?, ?, ?, ?)`); err != nil {
					return err
				}
			}
			if err := f.rows(func(table, node, project string, t, req, by int64) error {
				_, err := stmts[table].Exec(node, project, t, req, by)
				return err
			}); err != nil {
				return err
			}
			for _, q := range fillNodeRollups {
				if _, err := tx.Exec(q); err != nil {
					return err
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			_, err = db.Exec("ANALYZE")
			return err
		}},
		{"postgres", monthFleet{1000, now}, func() (watchtower.Store, error) { return postgres.Open(ctx, pgURL) }, func(f monthFleet) error {
			conn, err := pgx.Connect(ctx, pgURL)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			// One COPY per table, streamed from a goroutine generating
			// the rows in table order.
			type row struct {
				table string
				vals  []any
			}
			ch := make(chan row, 4096)
			var genErr error
			go func() {
				defer close(ch)
				genErr = f.rows(func(table, node, project string, t, req, by int64) error {
					ch <- row{table, []any{node, project, t, req, by}}
					return nil
				})
			}()
			buffered := map[string][][]any{}
			for r := range ch {
				buffered[r.table] = append(buffered[r.table], r.vals)
				if len(buffered[r.table]) == 100000 {
					if err := copyRows(ctx, conn, r.table, buffered[r.table]); err != nil {
						return err
					}
					buffered[r.table] = buffered[r.table][:0]
				}
			}
			if genErr != nil {
				return genErr
			}
			for table, rows := range buffered {
				if err := copyRows(ctx, conn, table, rows); err != nil {
					return err
				}
			}
			for _, q := range fillNodeRollups {
				if _, err := conn.Exec(ctx, q); err != nil {
					return err
				}
			}
			_, err = conn.Exec(ctx, "ANALYZE")
			return err
		}},
	}
	for _, st := range stores {
		s, err := st.open()
		if err != nil {
			b.Fatal(err)
		}
		st.fleet.ingestState(b, s)
		t0 := time.Now()
		if err := st.load(st.fleet); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %d nodes x %d projects, %d days: loaded in %s", st.name, st.fleet.nodes, monthProjects, monthDays, time.Since(t0).Round(time.Second))
		srv := watchtower.NewServer(watchtower.Config{OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken),
			Nodes: []watchtower.NodeConfig{{Name: st.fleet.node(7), Sponsor: "Sponsor 7"}}}, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := srv.Open("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		go srv.Serve("", "")
		base := "http://" + srv.Addr()
		monthAgo := now.Add(-monthDays * 24 * time.Hour).Unix()
		for _, page := range []struct{ name, path string }{
			{"usage-day", "/api/v1/usage?group=node&step=1h"},
			{"usage-week", fmt.Sprintf("/api/v1/usage?group=node&step=1h&from=%d", now.Add(-7*24*time.Hour).Unix())},
			{"usage-month", fmt.Sprintf("/api/v1/usage?group=project&step=24h&from=%d", monthAgo)},
			{"usage-month-by-node", fmt.Sprintf("/api/v1/usage?group=node&step=24h&from=%d", monthAgo)},
			{"demand", "/api/v1/demand"},
			{"nodes", "/api/v1/nodes"},
			{"metrics", "/metrics"},
			{"dashboard", "/"},
			{"dashboard-7d", "/fleet?range=7d"},
			{"dashboard-30d", "/fleet?range=30d"},
			{"node-page", "/nodes/" + st.fleet.node(7)},
		} {
			b.Run(st.name+"/"+page.name, func(b *testing.B) { benchGet(b, base+page.path) })
		}
		// The sponsor page is public and cached for 5 minutes: what one
		// rendering reads is its node's whole daily history.
		b.Run(st.name+"/sponsor-page-query", func(b *testing.B) {
			end := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
			for b.Loop() {
				if _, err := s.Served(ctx, st.fleet.node(7), end.Add(-10*365*24*time.Hour), end, 24*time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/request")
		})
		b.Run(st.name+"/ingest-alone", func(b *testing.B) { benchIngest(b, s, st.fleet, 0, 1) })
		// As a fleet pushes: many nodes at once (the server takes each
		// request on its own goroutine).
		b.Run(st.name+"/ingest-4-pushers", func(b *testing.B) { benchIngest(b, s, st.fleet, 1<<21, 4) })
		b.Run(st.name+"/ingest-beside-dashboard", func(b *testing.B) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var pages atomic.Int64
			for range 2 { // two readers of the month's heaviest pages
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						for _, p := range []string{"/", fmt.Sprintf("/api/v1/usage?group=node&step=24h&from=%d", monthAgo)} {
							if resp, err := testenv.OperatorGet(base + p); err == nil {
								io.Copy(io.Discard, resp.Body)
								resp.Body.Close()
								pages.Add(1)
							}
						}
					}
				}()
			}
			benchIngest(b, s, st.fleet, 1<<20, 1)
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(pages.Load())/b.Elapsed().Seconds(), "pages/s")
		})
		srv.Close(ctx)
		s.Close()
	}
}

// benchIngest stores 1,000 batches per b.N of the fleet's nodes (a
// minute each, 5 projects, 25 top paths) from pushers at once, each its
// own nodes, and reports batches/s; seq0 keeps runs apart.
func benchIngest(b *testing.B, s watchtower.Store, f monthFleet, seq0 uint64, pushers int) {
	ctx := context.Background()
	count := 1000 * b.N
	var wg sync.WaitGroup
	for w := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < count; i += pushers {
				n := i % f.nodes
				end := f.now.Add(-time.Duration(i/f.nodes) * time.Minute)
				if _, err := s.Ingest(ctx, benchBatch(f.node(n), seq0+uint64(i)+10, end), f.now); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "batches/s")
}

func copyRows(ctx context.Context, conn *pgx.Conn, table string, rows [][]any) error {
	col := map[string]string{"traffic": "minute_unix", "traffic_hour": "hour_unix", "traffic_day": "day_unix"}[table]
	_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, []string{"node", "project", col, "requests", "bytes"}, pgx.CopyFromRows(rows))
	return err
}
