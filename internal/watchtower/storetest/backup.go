package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"micromirror/internal/watchtower"
)

// Backup checks a backend's backup: taken while batches keep arriving, it
// restores (restore opens the copy as a store) to whole batches, at least
// all those stored before it began, and the running store is unharmed.
func Backup(t *testing.T, s watchtower.Store, backup func() error, restore func(t *testing.T) watchtower.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const total = 300
	var stored atomic.Int64
	ingest := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := s.Ingest(ctx, batch("a", uint64(i), t0.Add(time.Duration(i)*time.Minute), 100), t0); err != nil {
				t.Errorf("ingest %d: %v", i, err)
				return
			}
			stored.Add(1)
		}
	}
	ingest(1, 100)
	done := make(chan struct{})
	go func() { defer close(done); ingest(101, total) }()
	before := stored.Load()
	err := backup()
	<-done
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	from, to := t0, t0.Add((total+1)*time.Minute)
	r := restore(t)
	defer r.Close()
	rows, err := r.Usage(ctx, "node", from, to)
	if err != nil || len(rows) != 1 {
		t.Fatalf("restored usage: %+v %v", rows, err)
	}
	if got := int64(rows[0].Bytes); got%100 != 0 || got/100 < before || got/100 > total {
		t.Errorf("restored %d bytes: not whole batches between %d and %d", got, before, total)
	}
	if rows[0].Requests != 3*uint64(rows[0].Bytes/100) {
		t.Errorf("restored requests %d against %d bytes: torn batches", rows[0].Requests, rows[0].Bytes)
	}
	nodes, err := r.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].Node != "a" {
		t.Errorf("restored nodes: %+v %v", nodes, err)
	}
	if rows, err := s.Usage(ctx, "node", from, to); err != nil || len(rows) != 1 || rows[0].Bytes != 100*total {
		t.Errorf("the running store after the backup: %+v %v", rows, err)
	}
}
