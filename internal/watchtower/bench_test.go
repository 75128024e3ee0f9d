package watchtower_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"micromirror/internal/store/postgres"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

func benchStores(b *testing.B) map[string]func() watchtower.Store {
	pgURL := testenv.StartPostgres(b)
	return map[string]func() watchtower.Store{
		"sqlite": func() watchtower.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "wt.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"postgres": func() watchtower.Store {
			s, err := postgres.Open(context.Background(), pgURL)
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
}

func benchBatch(node string, seq uint64, end time.Time) telemetry.Batch {
	var ps []telemetry.ProjectTraffic
	var top []telemetry.PathCount
	for i, p := range []string{"debian", "ubuntu", "archlinux", "fedora", "videolan"} {
		ps = append(ps, telemetry.ProjectTraffic{Project: p, Requests: map[string]uint64{"http": 900, "https": 100}, Bytes: map[string]uint64{"http": 1e9, "https": 1e8}})
		for j := 0; j < 5; j++ {
			top = append(top, telemetry.PathCount{Project: p, Path: fmt.Sprintf("/%s/f%d-%d", p, i, j), Requests: 10, Bytes: 1e6})
		}
	}
	return telemetry.Batch{Version: 1, Node: node, Seq: seq, Start: end.Add(-time.Minute), End: end, Projects: ps, Top: top,
		System: telemetry.System{NetRxBytes: seq * 1e6, NetTxBytes: seq * 1e9, DiskFree: 1e11, DiskTotal: 2e12}}
}

// BenchmarkIngest: telemetry batches (5 projects, 25 top paths) stored per
// second, SQLite against PostgreSQL in the same run.
func BenchmarkIngest(b *testing.B) {
	for name, open := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			s := open()
			defer s.Close()
			start := time.Now().Add(-time.Duration(b.N) * time.Minute)
			b.ResetTimer()
			for i := range b.N {
				node := fmt.Sprintf("n%03d.%s.example.net", i%100, name)
				if _, err := s.Ingest(context.Background(), benchBatch(node, uint64(i+1), start.Add(time.Duration(i/100)*time.Minute)), start); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// BenchmarkQueries: the usage API (a day, by project, hourly series) and
// the dashboard overview over 100 nodes with six hours of minute batches
// of 5 projects each (180,000 traffic rows; seeding more takes longer than
// a benchmark run should).
func BenchmarkQueries(b *testing.B) {
	for name, open := range benchStores(b) {
		s := open()
		now := time.Now().UTC().Truncate(time.Minute)
		var seq uint64
		for m := 6 * 60; m > 0; m-- {
			for n := 0; n < 100; n++ {
				seq++
				if _, err := s.Ingest(context.Background(), benchBatch(fmt.Sprintf("n%03d.mm.example.net", n), seq, now.Add(-time.Duration(m)*time.Minute)), now); err != nil {
					b.Fatal(err)
				}
			}
		}
		srv := watchtower.NewServer(watchtower.Config{OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken)}, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := srv.Open("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		go srv.Serve("", "")
		for _, page := range []struct{ name, path string }{
			{"usage", "/api/v1/usage?group=project&step=1h"},
			{"dashboard", "/"},
		} {
			b.Run(name+"/"+page.name, func(b *testing.B) { benchGet(b, "http://"+srv.Addr()+page.path) })
		}
		srv.Close(context.Background())
		s.Close()
	}
}

// benchGet requests a URL b.N times and reports milliseconds per request.
func benchGet(b *testing.B, url string) {
	for range b.N {
		resp, err := testenv.OperatorGet(url)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%s: %v", url, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/request")
}
