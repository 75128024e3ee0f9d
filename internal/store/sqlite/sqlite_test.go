package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"micromirror/internal/telemetry"
)

func batch(node string, seq uint64, end time.Time, bytes uint64) telemetry.Batch {
	return telemetry.Batch{Version: 1, Node: node, Seq: seq, Start: end.Add(-time.Minute), End: end,
		Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 2, "https": 1}, Bytes: map[string]uint64{"http": bytes}}},
		System:   telemetry.System{Version: "v1", DiskFree: 10, DiskTotal: 100},
		Syncs:    []telemetry.SyncEvent{{Project: "debian", Started: end.Add(-30 * time.Second), Seconds: 3, Result: "success", LastSuccess: end.Add(-27 * time.Second)}},
		MQTT:     &telemetry.MQTTState{Connected: true}}
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wt.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i, b := range []telemetry.Batch{batch("a", 1, t0, 100), batch("a", 2, t0.Add(time.Minute), 50), batch("b", 1, t0, 7)} {
		if dup, err := s.Ingest(ctx, b, t0); err != nil || dup {
			t.Fatalf("batch %d: dup=%v err=%v", i, dup, err)
		}
	}
	if dup, err := s.Ingest(ctx, batch("a", 2, t0.Add(time.Minute), 50), t0); err != nil || !dup {
		t.Fatalf("resend not a duplicate: %v %v", dup, err)
	}
	rows, err := s.Usage(ctx, "node", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil || len(rows) != 2 || rows[0].Key != "a" || rows[0].Bytes != 150 || rows[0].Requests != 6 || rows[1].Bytes != 7 {
		t.Errorf("usage by node = %+v %v", rows, err)
	}
	rows, _ = s.Usage(ctx, "project", t0.Add(-time.Hour), t0.Add(time.Hour))
	if len(rows) != 1 || rows[0].Bytes != 157 {
		t.Errorf("usage by project = %+v", rows)
	}
	if _, err := s.Usage(ctx, "sponsor; DROP TABLE traffic", t0, t0.Add(time.Hour)); err == nil {
		t.Errorf("bad group accepted")
	}
	nodes, err := s.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].Version != "v1" || nodes[0].MQTTConnected == nil || !*nodes[0].MQTTConnected ||
		len(nodes[0].Projects) != 1 || nodes[0].Projects[0].LastResult != "success" || nodes[0].LastSeen != t0.Add(time.Minute) {
		t.Errorf("nodes = %+v %v", nodes, err)
	}
	// Reopening keeps the data and does not re-run migrations.
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if dup, _ := s.Ingest(ctx, batch("a", 1, t0, 100), t0); !dup {
		t.Errorf("data lost across reopen")
	}
}
