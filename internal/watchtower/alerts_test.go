package watchtower_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"micromirror/internal/store/sqlite"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv/logbuf"
	"micromirror/internal/watchtower"
)

// TestAlerts seeds a fleet with one healthy node and one with every
// problem, checks what fires, that the webhook hears it, and that a fixed
// problem resolves.
func TestAlerts(t *testing.T) {
	ctx := context.Background()
	store := openSQLite(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ingest := func(node string, seq uint64, end time.Time, bytes uint64, free uint64, syncs ...telemetry.SyncEvent) {
		t.Helper()
		b := telemetry.Batch{Version: 1, Node: node, Seq: seq, Start: end.Add(-time.Hour), End: end,
			Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 1}, Bytes: map[string]uint64{"http": bytes}}},
			System:   telemetry.System{DiskFree: free, DiskTotal: 1000}, Syncs: syncs}
		if _, err := store.Ingest(ctx, b, end); err != nil {
			t.Fatal(err)
		}
	}
	// A week of steady traffic for both nodes, 1 GB an hour.
	seq := map[string]uint64{}
	for h := 8 * 24; h >= 2; h-- {
		for _, n := range []string{"good", "bad"} {
			seq[n]++
			ingest(n, seq[n], now.Add(-time.Duration(h)*time.Hour), 1<<30, 500)
		}
	}
	ok := telemetry.SyncEvent{Project: "debian", Result: "success"}
	good := ok
	good.Started, good.LastSuccess = now.Add(-10*time.Minute), now.Add(-9*time.Minute)
	seq["good"]++
	ingest("good", seq["good"], now.Add(-time.Minute), 1<<30, 500, good)
	// "bad": silent for 30 minutes, disk 5% free, the traffic gone, and
	// three failed runs after a success two days ago.
	var runs []telemetry.SyncEvent
	for i, res := range []string{"success", "transient", "transient", "fatal"} {
		runs = append(runs, telemetry.SyncEvent{Project: "debian", Result: res, Started: now.Add(-time.Duration(48-i) * time.Hour),
			LastSuccess: now.Add(-48 * time.Hour)})
	}
	seq["bad"]++
	ingest("bad", seq["bad"], now.Add(-30*time.Minute), 0, 50, runs...)

	var mu sync.Mutex
	var hooks []watchtower.WebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p watchtower.WebhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		hooks = append(hooks, p)
		mu.Unlock()
	}))
	defer hook.Close()
	a := watchtower.NewAlerter(store, watchtower.AlertConfig{Webhook: hook.URL}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.Check(ctx, now)
	got := map[string]bool{}
	for _, al := range a.Open() {
		got[al.Key] = true
		if al.Node == "good" {
			t.Errorf("healthy node alerted: %+v", al)
		}
	}
	for _, want := range []string{"node-silent/bad", "disk-full/bad", "project-stale/bad/debian", "sync-failing/bad/debian", "traffic-cliff/bad"} {
		if !got[want] {
			t.Errorf("missing alert %s (open: %v)", want, got)
		}
	}
	mu.Lock()
	if len(hooks) != len(got) || hooks[0].Status != "firing" || hooks[0].Version != 1 {
		t.Errorf("webhook got %+v", hooks)
	}
	mu.Unlock()

	// Checked again: nothing new is sent.
	a.Check(ctx, now.Add(time.Minute))
	mu.Lock()
	n := len(hooks)
	mu.Unlock()
	if n != len(got) {
		t.Errorf("unchanged alerts re-sent (%d webhooks)", n)
	}
	// The node comes back with room on its disk: those two resolve.
	seq["bad"]++
	ingest("bad", seq["bad"], now.Add(2*time.Minute), 1<<30, 500)
	a.Check(ctx, now.Add(3*time.Minute))
	mu.Lock()
	defer mu.Unlock()
	resolved := map[string]bool{}
	for _, h := range hooks {
		if h.Status == "resolved" {
			resolved[h.Alert.Key] = true
		}
	}
	if !resolved["node-silent/bad"] || !resolved["disk-full/bad"] || resolved["project-stale/bad/debian"] {
		t.Errorf("resolved = %v", resolved)
	}
	openBefore := a.Open()

	// A restart: a new alerter on the same store fires nothing open
	// already (its start time kept), and resolves what was fixed while
	// it was away.
	hooks = nil
	fixed := telemetry.SyncEvent{Project: "debian", Result: "success", Started: now.Add(3 * time.Minute), LastSuccess: now.Add(4 * time.Minute)}
	seq["bad"]++
	ingest("bad", seq["bad"], now.Add(4*time.Minute), 1<<30, 500, fixed)
	mu.Unlock()
	restarted := watchtower.NewAlerter(store, watchtower.AlertConfig{Webhook: hook.URL}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	restarted.Check(ctx, now.Add(5*time.Minute))
	mu.Lock()
	resolved = map[string]bool{}
	for _, h := range hooks {
		if h.Status == "firing" {
			t.Errorf("fired again after a restart: %s", h.Alert.Key)
		}
		resolved[h.Alert.Key] = true
	}
	if !resolved["project-stale/bad/debian"] || !resolved["sync-failing/bad/debian"] {
		t.Errorf("resolved while away, not sent after the restart: %v (open before: %+v)", resolved, openBefore)
	}
	for _, al := range restarted.Open() {
		for _, b := range openBefore {
			if b.Key == al.Key && !b.Since.Equal(al.Since) {
				t.Errorf("%s: open since %s, was %s", al.Key, al.Since, b.Since)
			}
		}
	}
}

// TestWebhookRetried: a webhook that fails keeps its deliveries: retried
// after the backoff, in order (the resolve waits for its firing), each
// sent until it is taken, and shown with their attempts.
func TestWebhookRetried(t *testing.T) {
	ctx := context.Background()
	store := openSQLite(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	push := func(seq uint64, end time.Time) {
		b := telemetry.Batch{Version: 1, Node: "n", Seq: seq, Start: end.Add(-time.Minute), End: end}
		if _, err := store.Ingest(ctx, b, end); err != nil {
			t.Fatal(err)
		}
	}
	push(1, now.Add(-30*time.Minute)) // silent
	var mu sync.Mutex
	var tries int
	var taken []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p watchtower.WebhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		mu.Lock()
		defer mu.Unlock()
		if tries++; tries <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		taken = append(taken, p.Status+" "+p.Alert.Key)
	}))
	defer hook.Close()
	a := watchtower.NewAlerter(store, watchtower.AlertConfig{Webhook: hook.URL}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	state := func() (int, []string) {
		mu.Lock()
		defer mu.Unlock()
		return tries, append([]string(nil), taken...)
	}
	a.Check(ctx, now) // fires; the webhook fails
	a.Check(ctx, now.Add(10*time.Second))
	if n, _ := state(); n != 1 {
		t.Fatalf("%d webhook requests before the retry is due, want 1", n)
	}
	push(2, now.Add(20*time.Second))
	a.Check(ctx, now.Add(40*time.Second)) // resolves; the firing is retried and fails again
	if n, got := state(); n != 2 || len(got) != 0 {
		t.Fatalf("after the second failure: %d requests, taken %v (the resolve must wait)", n, got)
	}
	a.Check(ctx, now.Add(40*time.Second+61*time.Second))
	if n, got := state(); n != 4 || fmt.Sprint(got) != "[firing node-silent/n resolved node-silent/n]" {
		t.Errorf("after the backoff: %d requests, taken %v", n, got)
	}
	ds, err := store.Deliveries(ctx, 10)
	if err != nil || len(ds) != 2 || ds[1].Attempts != 3 || ds[1].State != "delivered" || ds[0].Attempts != 1 || ds[0].State != "delivered" {
		t.Errorf("deliveries = %+v %v", ds, err)
	}
}

// TestHealthAlerts: a worn drive, a drive failing SMART, a sensor near
// its critical temperature or past the configured one, an unsynchronised
// clock each alert; a healthy machine, and one whose sensors are missing,
// do not.
func TestHealthAlerts(t *testing.T) {
	ctx := context.Background()
	store := openSQLite(t)
	now := time.Now().UTC()
	f := func(v float64) *float64 { return &v }
	no, yes := false, true
	for i, c := range []struct {
		node string
		h    telemetry.Health
	}{
		{"worn", telemetry.Health{
			Disks: []telemetry.DiskHealth{{Device: "/dev/nvme0", Model: "SN570", WearPercent: f(85), Passed: &yes}, {Device: "/dev/sda", Passed: &no, WearPercent: f(10)}},
			Temps: []telemetry.Temp{{Chip: "nvme", Label: "Composite", C: 82, CritC: f(84.85)}, {Chip: "acpitz", Label: "temp1", C: 95}},
			Clock: &telemetry.ClockState{Synced: false, MaxErrorMS: 16000}}},
		{"healthy", telemetry.Health{
			Disks: []telemetry.DiskHealth{{Device: "/dev/nvme0", WearPercent: f(7), Passed: &yes}},
			Temps: []telemetry.Temp{{Chip: "nvme", Label: "Composite", C: 41, CritC: f(84.85)}, {Chip: "k10temp", Label: "Tctl", C: 70}},
			Clock: &telemetry.ClockState{Synced: true}}},
		{"unread", telemetry.Health{Missing: []string{"smart: no report", "temperatures: no hwmon sensor"}}},
	} {
		b := telemetry.Batch{Version: 1, Node: c.node, Seq: uint64(i + 1), Start: now.Add(-time.Minute), End: now, Health: &c.h}
		if _, err := store.Ingest(ctx, b, now); err != nil {
			t.Fatal(err)
		}
	}
	found, err := watchtower.Evaluate(ctx, store, watchtower.AlertConfig{}, now)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range found {
		keys = append(keys, a.Key)
	}
	want := "[clock-unsynced/worn disk-failing/worn/sda ssd-wear/worn/nvme0 too-hot/worn/acpitz/temp1 too-hot/worn/nvme/Composite]"
	if fmt.Sprint(keys) != want {
		t.Errorf("alerts = %v\nwant %s", keys, want)
	}
}

// openSQLite opens a store in the test's directory, closed at its end.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestAlerterLogNamesItsPart: the alerter's lines carry the watchtower's
// component once and say they are the alerts' (a JSON line with a key
// twice is one a log shipper may read either way).
func TestAlerterLogNamesItsPart(t *testing.T) {
	var buf logbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil)).With("component", "watchtower")
	s := watchtower.NewServer(watchtower.Config{}, openSQLite(t), log)
	s.Alerts.Check(context.Background(), time.Now())
	line := strings.SplitN(buf.String(), "\n", 2)[0]
	if !strings.Contains(line, "leading") || strings.Count(line, `"component"`) != 1 || !strings.Contains(line, `"part":"alerts"`) {
		t.Errorf("alerter's log line: %s", line)
	}
}
