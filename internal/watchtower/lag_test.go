package watchtower_test

import (
	"context"
	"testing"
	"time"

	"micromirror/internal/announcement"
	"micromirror/internal/mqtt"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// TestLagBehindAnnouncement: the watchtower hears the upstream announce a
// change of the fedora module; a node whose epel (fed by fedora) last
// synced before it is behind, and current again after its next success.
func TestLagBehindAnnouncement(t *testing.T) {
	ctx := context.Background()
	broker := testenv.StartMosquitto(t)
	store := openSQLite(t)
	s := serveWatchtower(t, operatorConfig, store)
	stop, err := s.ListenAnnouncements(mqtt.ClientConfig{Broker: broker.URL(), ClientID: "wt"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	now := time.Now().UTC()
	ingest := func(seq uint64, success time.Time) {
		b := telemetry.Batch{Version: 1, Node: "n1", Seq: seq, Start: now.Add(-time.Minute), End: now.Add(time.Duration(seq) * time.Second),
			Syncs: []telemetry.SyncEvent{{Project: "epel", Started: success.Add(-time.Second), Result: "success", LastSuccess: success}}}
		if _, err := store.Ingest(ctx, b, now); err != nil {
			t.Fatal(err)
		}
	}
	ingest(1, now.Add(-time.Hour))
	announced := now.Add(-10 * time.Minute).Truncate(time.Second)
	time.Sleep(300 * time.Millisecond) // subscribed
	pub, err := mqtt.NewPublisher(mqtt.ClientConfig{Broker: broker.URL(), ClientID: "up"}, "up.example.net")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Announce(announcement.Announcement{Module: "fedora", Time: announced}); err != nil {
		t.Fatal(err)
	}
	var nodes struct {
		Nodes []watchtower.NodeSummary `json:"nodes"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		getJSON(t, "http://"+s.Addr()+"/api/v1/nodes", &nodes)
		if len(nodes.Nodes) == 1 && nodes.Nodes[0].Projects[0].LagSeconds > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lag reported: %+v", nodes.Nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p := nodes.Nodes[0].Projects[0]
	if !p.Announced.Equal(announced) || p.LagSeconds < 590 || p.LagSeconds > 700 {
		t.Errorf("epel behind fedora's announcement: %+v", p)
	}
	if nodes.Nodes[0].State == "" {
		t.Errorf("node state missing")
	}
	ingest(2, now) // synced after the announcement
	getJSON(t, "http://"+s.Addr()+"/api/v1/nodes", &nodes)
	if p := nodes.Nodes[0].Projects[0]; p.LagSeconds != 0 {
		t.Errorf("lag after catching up = %d", p.LagSeconds)
	}
}

// TestLagOfNodesOwnTriggers: the lag is measured against the modules the
// node syncs the project on, as it reports them: a node whose config
// triggers debian on its own module is behind that module's change and
// not the catalog's; a node that reports no triggers (older) is measured
// against the catalog's. Before, the watchtower always took the catalog's.
func TestLagOfNodesOwnTriggers(t *testing.T) {
	ctx := context.Background()
	store := openSQLite(t)
	s := serveWatchtower(t, operatorConfig, store)
	now := time.Now().UTC().Truncate(time.Second)
	synced := now.Add(-time.Hour)
	for i, triggers := range [][]string{nil, {"debian-custom"}} {
		node := []string{"catalog.mm.example.net", "own.mm.example.net"}[i]
		b := telemetry.Batch{Version: 1, Node: node, Seq: 1, Start: now.Add(-time.Minute), End: now,
			Syncs: []telemetry.SyncEvent{{Project: "debian", Started: synced.Add(-time.Minute), Result: "success", LastSuccess: synced, Triggers: triggers}}}
		if _, err := store.Ingest(ctx, b, now); err != nil {
			t.Fatal(err)
		}
	}
	lags := func() map[string]int64 {
		var nodes struct {
			Nodes []watchtower.NodeSummary `json:"nodes"`
		}
		getJSON(t, "http://"+s.Addr()+"/api/v1/nodes", &nodes)
		out := map[string]int64{}
		for _, n := range nodes.Nodes {
			out[n.Node] = n.Projects[0].LagSeconds
		}
		return out
	}
	store.SaveAnnouncement(ctx, "debian-custom", "", now.Add(-10*time.Minute))
	if l := lags(); l["own.mm.example.net"] < 590 || l["catalog.mm.example.net"] != 0 {
		t.Errorf("after debian-custom changed: lags %v, want only own behind", l)
	}
	store.SaveAnnouncement(ctx, "debian", "", now.Add(-5*time.Minute))
	if l := lags(); l["catalog.mm.example.net"] < 290 || l["own.mm.example.net"] > 700 || l["own.mm.example.net"] < 590 {
		t.Errorf("after debian changed too: lags %v, want catalog behind debian's change, own still behind its own", l)
	}
}
