// Package storetest is the conformance suite every watchtower.Store
// backend passes: the same behaviour on SQLite and PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

// Opener opens a store; calling it twice on the same test must reopen the
// same database (to check persistence and migrations).
type Opener func(t *testing.T) watchtower.Store

func batch(node string, seq uint64, end time.Time, bytes uint64) telemetry.Batch {
	return telemetry.Batch{Version: 1, Node: node, Seq: seq, Start: end.Add(-time.Minute), End: end,
		Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 2, "https": 1}, Bytes: map[string]uint64{"http": bytes}}},
		System:   telemetry.System{Version: "v1", DiskFree: 10, DiskTotal: 100, NetRxBytes: 10 * seq, NetTxBytes: 1000 * seq},
		Syncs: []telemetry.SyncEvent{{Project: "debian", Started: end.Add(-30 * time.Second), Seconds: 3, Result: "success", BytesReceived: 1234, Files: 5,
			LastSuccess: end.Add(-27 * time.Second), TreeBytes: 4e11, Serial: "20261125T1200"}},
		MQTT: &telemetry.MQTTState{Connected: true},
		Top: []telemetry.PathCount{{Project: "debian", Path: "/debian/dists/stable/InRelease", Requests: 3, Bytes: bytes},
			{Project: "debian", Path: "/debian/pool/a.deb", Requests: 1, Bytes: 10}},
		Clients:  2,
		Checkers: []telemetry.CheckerVisit{{Checker: "archweb", Requests: 2, Status: map[string]uint64{"2xx": 1, "4xx": 1}, Last: end}}}
}

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for i, b := range []telemetry.Batch{batch("a", 1, t0, 100), batch("a", 2, t0.Add(time.Minute), 50), batch("b", 1, t0, 7)} {
		if dup, err := s.Ingest(ctx, b, t0); err != nil || dup {
			t.Fatalf("batch %d: dup=%v err=%v", i, dup, err)
		}
	}
	t.Run("duplicate", func(t *testing.T) {
		if dup, err := s.Ingest(ctx, batch("a", 2, t0.Add(time.Minute), 50), t0); err != nil || !dup {
			t.Fatalf("resend not a duplicate: %v %v", dup, err)
		}
	})
	t.Run("usage", func(t *testing.T) {
		rows, err := s.Usage(ctx, "node", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil || len(rows) != 2 || rows[0].Key != "a" || rows[0].Bytes != 150 || rows[0].Requests != 6 || rows[1].Bytes != 7 {
			t.Errorf("usage by node = %+v %v", rows, err)
		}
		rows, _ = s.Usage(ctx, "project", t0.Add(-time.Hour), t0.Add(time.Hour))
		if len(rows) != 1 || rows[0].Bytes != 157 {
			t.Errorf("usage by project = %+v", rows)
		}
		if rows, _ := s.Usage(ctx, "project", t0.Add(time.Hour), t0.Add(2*time.Hour)); len(rows) != 0 {
			t.Errorf("usage outside the range = %+v", rows)
		}
		if _, err := s.Usage(ctx, "sponsor; DROP TABLE traffic", t0, t0.Add(time.Hour)); err == nil {
			t.Errorf("bad group accepted")
		}
	})
	t.Run("series", func(t *testing.T) {
		pts, err := s.Served(ctx, "", t0.Add(-time.Hour), t0.Add(time.Hour), time.Hour)
		if err != nil || len(pts) != 1 || pts[0].Bytes != 157 || !pts[0].T.Equal(t0) {
			t.Errorf("fleet hourly = %+v %v", pts, err)
		}
		pts, _ = s.Served(ctx, "a", t0.Add(-time.Hour), t0.Add(time.Hour), time.Minute)
		if len(pts) != 2 || pts[0].Bytes != 100 || pts[1].Bytes != 50 || !pts[1].T.Equal(t0.Add(time.Minute)) {
			t.Errorf("node a per minute = %+v", pts)
		}
		if _, err := s.Served(ctx, "", t0, t0.Add(time.Hour), time.Second); err == nil {
			t.Errorf("sub-minute step accepted")
		}
		net, err := s.Network(ctx, "a", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil || len(net) != 2 || net[1].Tx != 2000 || !net[0].T.Equal(t0) {
			t.Errorf("network = %+v %v", net, err)
		}
	})
	t.Run("nodes", func(t *testing.T) {
		nodes, err := s.Nodes(ctx)
		if err != nil || len(nodes) != 2 || nodes[0].Version != "v1" || nodes[0].MQTTConnected == nil || !*nodes[0].MQTTConnected ||
			len(nodes[0].Projects) != 1 || nodes[0].Projects[0].LastResult != "success" || !nodes[0].LastSeen.Equal(t0.Add(time.Minute)) ||
			!nodes[0].Projects[0].LastSuccess.Equal(t0.Add(time.Minute-27*time.Second)) {
			t.Errorf("nodes = %+v %v", nodes, err)
		}
	})
	t.Run("top paths and checkers", func(t *testing.T) {
		top, err := s.Top(ctx, "debian", t0.Add(-time.Hour), t0.Add(time.Hour), 10)
		if err != nil || len(top) != 2 || top[0].Path != "/debian/dists/stable/InRelease" || top[0].Requests != 9 || top[1].Requests != 3 {
			t.Errorf("top = %+v %v", top, err)
		}
		if top, _ := s.Top(ctx, "gimp", t0.Add(-time.Hour), t0.Add(time.Hour), 10); len(top) != 0 {
			t.Errorf("top of another project = %+v", top)
		}
		nodes, _ := s.Nodes(ctx)
		c := nodes[0].Checkers
		if len(c) != 1 || c[0].Checker != "archweb" || c[0].Requests != 4 || c[0].Errors != 2 || !c[0].LastVisit.Equal(t0.Add(time.Minute)) {
			t.Errorf("checkers of node a = %+v", c)
		}
	})
	t.Run("series and demand", func(t *testing.T) {
		rows, err := s.Series(ctx, "node", t0.Add(-time.Hour), t0.Add(time.Hour), time.Minute)
		// Ordered by time; the nodes of one minute in any order.
		if err != nil || len(rows) != 3 || fmt.Sprint(seriesMap(rows)) != "map[a@1795608000:[3 100] a@1795608060:[3 50] b@1795608000:[3 7]]" ||
			!rows[2].T.Equal(t0.Add(time.Minute)) {
			t.Errorf("series by node = %+v %v", rows, err)
		}
		// The same from the hourly rows, whole hours: a row per node and hour.
		rows, err = s.Series(ctx, "node", t0.Add(-time.Hour), t0.Add(time.Hour), time.Hour)
		if err != nil || fmt.Sprint(seriesMap(rows)) != "map[a@1795608000:[6 150] b@1795608000:[3 7]]" {
			t.Errorf("series by node, hourly = %+v %v", rows, err)
		}
		dem, err := s.Demand(ctx, t0.Add(-24*time.Hour), t0.Add(24*time.Hour))
		if err != nil || len(dem) != 2 || dem[0].Node != "a" || dem[0].Bytes != 150 || !dem[0].Day.Equal(t0.Truncate(24*time.Hour)) {
			t.Errorf("demand = %+v %v", dem, err)
		}
	})
	t.Run("announcements", func(t *testing.T) {
		s.SaveAnnouncement(ctx, "debian", "s2", t0)
		s.SaveAnnouncement(ctx, "debian", "s1", t0.Add(-time.Hour)) // older: ignored
		s.SaveAnnouncement(ctx, "fedora-epel", "", t0.Add(time.Minute))
		got, err := s.Announcements(ctx)
		if err != nil || len(got) != 2 || !got["debian"].Equal(t0) || !got["fedora-epel"].Equal(t0.Add(time.Minute)) {
			t.Errorf("announcements = %v %v", got, err)
		}
	})
	t.Run("probes", func(t *testing.T) {
		exp := t0.Add(30 * 24 * time.Hour)
		for _, p := range []watchtower.Probe{{Node: "a", Scheme: "https", Family: "ipv4", At: t0, OK: true, LatencyMS: 12, CertExpiry: exp},
			{Node: "a", Scheme: "http", Family: "ipv4", At: t0, OK: false, Error: "connection refused"},
			{Node: "a", Scheme: "http", Family: "ipv6", At: t0, OK: false, Error: "no ipv6 address"},
			{Node: "a", Scheme: "http", Family: "ipv4", At: t0.Add(time.Minute), OK: true, LatencyMS: 3}} {
			if err := s.SaveProbe(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		nodes, _ := s.Nodes(ctx)
		ps := nodes[0].Probes
		if len(ps) != 3 || ps[0].Scheme != "http" || ps[0].Family != "ipv4" || !ps[0].OK || ps[0].Error != "" ||
			ps[1].Family != "ipv6" || ps[1].OK || ps[1].Error != "no ipv6 address" || !ps[2].CertExpiry.Equal(exp) || ps[2].LatencyMS != 12 {
			t.Errorf("probes = %+v", ps)
		}
	})
	t.Run("sync history", func(t *testing.T) {
		runs, err := s.Syncs(ctx, "a", t0.Add(-time.Hour), t0.Add(time.Hour), 10)
		if err != nil || len(runs) != 2 || !runs[0].Started.Equal(t0.Add(30*time.Second)) || !runs[1].Started.Equal(t0.Add(-30*time.Second)) ||
			runs[0].Project != "debian" || runs[0].Seconds != 3 || runs[0].Result != "success" || runs[0].Bytes != 1234 || runs[0].Files != 5 {
			t.Errorf("runs of a = %+v %v", runs, err)
		}
		if runs, _ := s.Syncs(ctx, "a", t0.Add(-time.Hour), t0.Add(time.Hour), 1); len(runs) != 1 || !runs[0].Started.Equal(t0.Add(30*time.Second)) {
			t.Errorf("the newest run of a = %+v", runs)
		}
		if runs, _ := s.Syncs(ctx, "a", t0, t0.Add(time.Hour), 10); len(runs) != 1 {
			t.Errorf("runs of a from t0 = %+v", runs)
		}
		if runs, _ := s.Syncs(ctx, "nobody", t0.Add(-time.Hour), t0.Add(time.Hour), 10); len(runs) != 0 {
			t.Errorf("runs of an unknown node = %+v", runs)
		}
	})
	t.Run("consecutive failures", func(t *testing.T) {
		for i, res := range []string{"transient", "fatal"} {
			b := batch("b", uint64(10+i), t0.Add(time.Duration(2+i)*time.Minute), 0)
			b.Syncs[0].Result, b.Syncs[0].LastSuccess = res, time.Time{}
			if _, err := s.Ingest(ctx, b, t0); err != nil {
				t.Fatal(err)
			}
		}
		nodes, _ := s.Nodes(ctx)
		if f := nodes[1].Projects[0].Failures; f != 2 {
			t.Errorf("node b failures = %d, want 2", f)
		}
		if nodes[0].Projects[0].Failures != 0 {
			t.Errorf("node a failures = %d", nodes[0].Projects[0].Failures)
		}
		// One batch with several runs: a failure, a success, a failure.
		b := batch("b", 20, t0.Add(5*time.Minute), 0)
		ok := b.Syncs[0]
		ok.Started = t0.Add(4*time.Minute + 10*time.Second)
		failed := ok
		failed.Result, failed.LastSuccess = "transient", time.Time{}
		first, last := failed, failed
		first.Started, last.Started = t0.Add(4*time.Minute), t0.Add(4*time.Minute+20*time.Second)
		b.Syncs = []telemetry.SyncEvent{last, ok, first}
		if _, err := s.Ingest(ctx, b, t0); err != nil {
			t.Fatal(err)
		}
		// The same run again in a later batch counts once.
		again := batch("b", 21, t0.Add(6*time.Minute), 0)
		again.Syncs = []telemetry.SyncEvent{last}
		if _, err := s.Ingest(ctx, again, t0); err != nil {
			t.Fatal(err)
		}
		nodes, _ = s.Nodes(ctx)
		if p := nodes[1].Projects[0]; p.Failures != 1 || p.LastResult != "transient" || !p.LastSuccess.Equal(ok.LastSuccess) {
			t.Errorf("after a batch of fail, success, fail: %+v, want 1 failure", p)
		}
	})
	t.Run("triggers", func(t *testing.T) {
		// A node reports its project's triggers; a later run that does
		// not (a node before the field) keeps them.
		at := t0.Add(-3 * time.Hour) // outside the ranges the other subtests sum
		b := batch("d", 1, at, 0)
		b.Syncs[0].Triggers = []string{"debian-own", "debian"}
		if _, err := s.Ingest(ctx, b, t0); err != nil {
			t.Fatal(err)
		}
		later := batch("d", 2, at.Add(time.Minute), 0)
		later.Syncs[0].Started = at.Add(30 * time.Second)
		if _, err := s.Ingest(ctx, later, t0); err != nil {
			t.Fatal(err)
		}
		nodes, _ := s.Nodes(ctx)
		for _, n := range nodes {
			if n.Node == "d" && fmt.Sprint(n.Projects[0].Triggers) != "[debian-own debian]" {
				t.Errorf("triggers of d = %v", n.Projects[0].Triggers)
			}
			if n.Node == "a" && n.Projects[0].Triggers != nil {
				t.Errorf("a node that never reported triggers has %v", n.Projects[0].Triggers)
			}
		}
	})
	t.Run("out-of-order batch keeps the newest state", func(t *testing.T) {
		old := batch("a", 9, t0.Add(-time.Hour), 1)
		old.Syncs[0].Result = "transient"
		if _, err := s.Ingest(ctx, old, t0); err != nil {
			t.Fatal(err)
		}
		nodes, _ := s.Nodes(ctx)
		if nodes[0].Projects[0].LastResult != "success" || !nodes[0].LastSeen.Equal(t0.Add(time.Minute)) {
			t.Errorf("an older batch rewound the state: %+v", nodes[0])
		}
	})
	t.Run("compact keeps totals", func(t *testing.T) {
		old := t0.Add(-20 * 24 * time.Hour)
		for i := uint64(0); i < 120; i++ { // two hours of minutes, 20 days ago
			if _, err := s.Ingest(ctx, batch("c", 100+i, old.Add(time.Duration(i)*time.Minute), 10), old); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Ingest(ctx, batch("c", 999, t0.Add(-3*365*24*time.Hour), 77), t0); err != nil {
			t.Fatal(err)
		}
		before, _ := s.Usage(ctx, "node", old.Add(-time.Hour), old.Add(3*time.Hour))
		recentBefore, _ := s.Usage(ctx, "node", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err := s.Compact(ctx, t0, 14*24*time.Hour, 2*365*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		after, _ := s.Usage(ctx, "node", old.Add(-time.Hour), old.Add(3*time.Hour))
		if len(before) != 1 || len(after) != 1 || after[0].Bytes != before[0].Bytes || after[0].Bytes != 1200 {
			t.Errorf("totals changed by compaction: %+v -> %+v", before, after)
		}
		pts, _ := s.Served(ctx, "c", old.Add(-time.Hour), old.Add(3*time.Hour), time.Minute)
		if len(pts) > 3 {
			t.Errorf("%d minute rows left after the roll-up", len(pts))
		}
		if ancient, _ := s.Usage(ctx, "node", t0.Add(-4*365*24*time.Hour), t0.Add(-2*365*24*time.Hour)); len(ancient) != 0 {
			t.Errorf("data past retention kept: %+v", ancient)
		}
		recent, _ := s.Usage(ctx, "node", t0.Add(-time.Hour), t0.Add(time.Hour))
		if fmt.Sprint(recent) != fmt.Sprint(recentBefore) || len(recent) != 2 {
			t.Errorf("recent minute data touched: %+v -> %+v", recentBefore, recent)
		}
	})
	t.Run("alert transitions and deliveries", func(t *testing.T) {
		t1, t2 := t0.Add(-time.Hour), t0
		silent := watchtower.Alert{Key: "node-silent/a", Kind: "node-silent", Node: "a", Message: "silent"}
		stale := watchtower.Alert{Key: "project-stale/a/debian", Kind: "project-stale", Node: "a", Project: "debian", Message: "stale"}
		fired, resolved, err := s.TransitionAlerts(ctx, []watchtower.Alert{silent, stale}, t1, true)
		if err != nil || len(fired) != 2 || len(resolved) != 0 || !fired[0].Since.Equal(t1) {
			t.Fatalf("first transition: %+v %+v %v", fired, resolved, err)
		}
		stale.Message = "still stale"
		fired, resolved, err = s.TransitionAlerts(ctx, []watchtower.Alert{stale}, t2, true)
		if err != nil || len(fired) != 0 || len(resolved) != 1 || resolved[0].Key != silent.Key {
			t.Fatalf("second transition: %+v %+v %v", fired, resolved, err)
		}
		if fired, resolved, _ = s.TransitionAlerts(ctx, []watchtower.Alert{stale}, t2.Add(time.Minute), true); len(fired)+len(resolved) != 0 {
			t.Errorf("an unchanged set transitioned: %+v %+v", fired, resolved)
		}
		open, err := s.OpenAlerts(ctx)
		if err != nil || len(open) != 1 || open[0].Key != stale.Key || !open[0].Since.Equal(t1) || open[0].Message != "still stale" {
			t.Errorf("open alerts = %+v %v", open, err)
		}
		pending, err := s.PendingDeliveries(ctx, 10)
		var got []string
		for _, d := range pending {
			got = append(got, d.Payload.Status+" "+d.Payload.Alert.Key)
		}
		if err != nil || fmt.Sprint(got) != "[firing node-silent/a firing project-stale/a/debian resolved node-silent/a]" || !pending[0].Created.Equal(t1) {
			t.Fatalf("queued deliveries = %v %v", got, err)
		}
		// The first delivered, the second failed once and waits.
		d0, d1 := pending[0], pending[1]
		d0.State, d0.Attempts, d0.Done = "delivered", 1, t2
		d1.Attempts, d1.NextAttempt, d1.LastError = 1, t2.Add(30*time.Second), "webhook answered 502"
		if err := errors.Join(s.RecordDelivery(ctx, d0), s.RecordDelivery(ctx, d1)); err != nil {
			t.Fatal(err)
		}
		pending, _ = s.PendingDeliveries(ctx, 10)
		if len(pending) != 2 || pending[0].ID != d1.ID || pending[0].Attempts != 1 || !pending[0].NextAttempt.Equal(d1.NextAttempt) || pending[0].LastError != d1.LastError {
			t.Errorf("pending after one delivered, one failed: %+v", pending)
		}
		recent, err := s.Deliveries(ctx, 10)
		if err != nil || len(recent) != 3 || recent[2].State != "delivered" || !recent[2].Done.Equal(t2) {
			t.Errorf("recent deliveries = %+v %v", recent, err)
		}
		// Without a webhook nothing is queued.
		if _, resolved, _ := s.TransitionAlerts(ctx, nil, t2, false); len(resolved) != 1 {
			t.Errorf("the last alert did not resolve")
		}
		if pending, _ := s.PendingDeliveries(ctx, 10); len(pending) != 2 {
			t.Errorf("a transition without a webhook queued: %d pending", len(pending))
		}
	})
	t.Run("health", func(t *testing.T) {
		hot, wear := 71.5, 12.0
		h := telemetry.Health{Temps: []telemetry.Temp{{Chip: "k10temp", Label: "Tctl", C: 55}, {Chip: "nvme", Label: "Composite", C: hot}},
			Disks:   []telemetry.DiskHealth{{Device: "/dev/nvme0", WearPercent: &wear}, {Device: "/dev/sda"}},
			Clock:   &telemetry.ClockState{Synced: false, MaxErrorMS: 16000},
			Missing: []string{"nics: no /proc/net/dev"}}
		b := batch("h", 1, t0, 0)
		b.Health = &h
		later := batch("h", 2, t0.Add(time.Minute), 0) // no health section: the last report stands
		for _, x := range []telemetry.Batch{b, later} {
			if _, err := s.Ingest(ctx, x, t0); err != nil {
				t.Fatal(err)
			}
		}
		nodes, _ := s.Nodes(ctx)
		var got *telemetry.Health
		for _, n := range nodes {
			if n.Node == "h" {
				got = n.Health
			}
		}
		if got == nil || len(got.Temps) != 2 || len(got.Disks) != 2 || got.Disks[1].WearPercent != nil || got.Clock == nil || got.Clock.Synced || len(got.Missing) != 1 {
			t.Errorf("health of node h = %+v", got)
		}
		samples, err := s.HealthSamples(ctx, "h", t0.Add(-time.Hour), t0.Add(time.Hour))
		if err != nil || len(samples) != 1 {
			t.Fatalf("samples = %+v %v", samples, err)
		}
		x := samples[0]
		if !x.T.Equal(t0) || x.MaxTempC == nil || *x.MaxTempC != hot || x.DiskTempC == nil || *x.DiskTempC != hot ||
			x.WearPercent == nil || *x.WearPercent != wear || x.ClockSynced == nil || *x.ClockSynced || x.NICErrors != nil {
			t.Errorf("sample = %+v (the NICs were missing: nil, not 0)", x)
		}
	})
	t.Run("lead", func(t *testing.T) {
		if lead, err := s.Lead(ctx); err != nil || !lead {
			t.Errorf("the only watchtower does not lead: %v", err)
		}
	})
	t.Run("reopen", func(t *testing.T) {
		s.Close()
		s2 := open(t)
		defer s2.Close()
		if dup, _ := s2.Ingest(ctx, batch("a", 1, t0, 100), t0); !dup {
			t.Errorf("data lost across reopen")
		}
	})
}
