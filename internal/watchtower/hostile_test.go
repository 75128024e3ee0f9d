package watchtower_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"micromirror/internal/testenv"
	"net/http"
	"strings"
	"testing"
	"time"

	"micromirror/internal/telemetry"
	"micromirror/internal/watchtower"
)

func marshal(t *testing.T, b telemetry.Batch) []byte {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestImpossibleValuesRefused: values no node could measure get a 4xx
// (which the node drops and counts), and none reaches the store. A
// counter of 2^64-1 answered 503 "storage failed", which told the node
// to resend the batch for ever; sums that overflowed made the usage API
// and the dashboard answer 500; a batch stamped in the year 9999 pinned
// the node's last-seen time, so later batches no longer moved it.
func TestImpossibleValuesRefused(t *testing.T) {
	url := startWatchtower(t)
	now := time.Now()
	base := func(seq uint64) telemetry.Batch {
		return telemetry.Batch{Version: 1, Node: "a.mm.example.net", Seq: seq, Start: now.Add(-time.Minute), End: now,
			Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 1}, Bytes: map[string]uint64{"http": 10}}}}
	}
	seq := uint64(0)
	for _, tc := range []struct {
		name string
		edit func(*telemetry.Batch)
	}{
		{"a counter of 2^64-1", func(b *telemetry.Batch) { b.Projects[0].Bytes["http"] = math.MaxUint64 }},
		{"counters that overflow a sum", func(b *telemetry.Batch) {
			b.Projects[0].Bytes = map[string]uint64{"http": 1 << 62, "https": 1 << 62, "rsync": 1 << 62}
		}},
		{"more bytes than 100 Gbit/s moves", func(b *telemetry.Batch) { b.Projects[0].Bytes["http"] = 1e15 }},
		{"the year 9999", func(b *telemetry.Batch) {
			b.End = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
			b.Start = b.End.Add(-time.Minute)
		}},
		{"an hour ahead", func(b *telemetry.Batch) { b.End, b.Start = now.Add(time.Hour), now.Add(59*time.Minute) }},
		{"a sync in the future", func(b *telemetry.Batch) {
			b.Syncs = []telemetry.SyncEvent{{Project: "debian", Started: now.Add(24 * time.Hour), Result: "ok"}}
		}},
		{"a negative sync size", func(b *telemetry.Batch) {
			b.Syncs = []telemetry.SyncEvent{{Project: "debian", Started: now, Result: "ok", BytesReceived: -1}}
		}},
		{"a thousand triggers", func(b *telemetry.Batch) {
			b.Syncs = []telemetry.SyncEvent{{Project: "debian", Started: now, Result: "ok", Triggers: make([]string, 1000)}}
			for i := range b.Syncs[0].Triggers {
				b.Syncs[0].Triggers[i] = fmt.Sprint("m", i)
			}
		}},
		{"a trigger of 64 KiB", func(b *telemetry.Batch) {
			b.Syncs = []telemetry.SyncEvent{{Project: "debian", Started: now, Result: "ok", Triggers: []string{strings.Repeat("m", 64<<10)}}}
		}},
		{"a seq past int64", func(b *telemetry.Batch) { b.Seq = math.MaxUint64 }},
		{"a path of 64 KiB", func(b *telemetry.Batch) {
			b.Top = []telemetry.PathCount{{Project: "debian", Path: strings.Repeat("p", 64<<10), Requests: 1}}
		}},
		{"disks of 2^64-1 bytes", func(b *telemetry.Batch) { b.System.DiskTotal = math.MaxUint64 }},
		{"a thousand protocols", func(b *telemetry.Batch) {
			for i := range 1000 {
				b.Projects[0].Requests[fmt.Sprint(i)] = 1
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seq++
			b := base(seq)
			tc.edit(&b)
			code, msg := post(t, url, "token-a", marshal(t, b), true)
			if code < 400 || code >= 500 {
				t.Errorf("answered %d %s, want a 4xx", code, msg)
			}
		})
	}
	// The node list and every query still work, and a genuine batch
	// moves the node's last-seen.
	seq++
	if code, msg := post(t, url, "token-a", marshal(t, base(seq)), true); code != 202 {
		t.Fatalf("a genuine batch after the junk: %d %s", code, msg)
	}
	for _, path := range []string{"/api/v1/usage?group=project", "/api/v1/usage?group=sponsor&step=1m", "/api/v1/top", "/api/v1/demand",
		"/api/v1/syncs?node=a.mm.example.net", "/", "/fleet?range=30d", "/sponsors/a.mm.example.net", "/nodes/a.mm.example.net", "/metrics"} {
		resp, err := testenv.OperatorGet(url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	var nodes struct{ Nodes []watchtower.NodeSummary }
	getJSON(t, url+"/api/v1/nodes", &nodes)
	seen := false
	for _, n := range nodes.Nodes {
		if n.Node == "a.mm.example.net" {
			seen = true
			if n.LastSeen.After(now.Add(time.Minute)) || n.LastSeen.Before(now.Add(-time.Minute)) {
				t.Errorf("last seen %v, want about %v", n.LastSeen, now)
			}
		}
	}
	if !seen {
		t.Errorf("node not listed: %+v", nodes.Nodes)
	}
}

// TestUnknownProjectsIgnored: a node's batches cannot name projects at
// will: names neither the catalog nor the node list knows are dropped
// and counted, and the rest of the batch is kept. 20 batches naming 256
// projects each made a 2.2 MiB dashboard with 10,240 mentions.
func TestUnknownProjectsIgnored(t *testing.T) {
	url := startWatchtower(t)
	for seq := uint64(1); seq <= 20; seq++ {
		b := telemetry.Batch{Version: 1, Node: "a.mm.example.net", Seq: seq, Start: time.Now().Add(-time.Minute), End: time.Now()}
		b.Projects = append(b.Projects, telemetry.ProjectTraffic{Project: "debian", Requests: map[string]uint64{"http": 1}, Bytes: map[string]uint64{"http": 10}})
		for i := range 255 {
			b.Projects = append(b.Projects, telemetry.ProjectTraffic{Project: fmt.Sprintf("junk-%d-%d", seq, i),
				Requests: map[string]uint64{"http": 1}, Bytes: map[string]uint64{"http": 1}})
		}
		if code, msg := post(t, url, "token-a", marshal(t, b), true); code != 202 {
			t.Fatalf("batch %d: %d %s", seq, code, msg)
		}
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(page), "junk-"); n > 0 {
		t.Errorf("the dashboard names %d unknown projects (%d bytes)", n, len(page))
	}
	var u struct{ Rows []watchtower.UsageRow }
	getJSON(t, url+"/api/v1/usage?group=project", &u)
	if len(u.Rows) != 1 || u.Rows[0].Key != "debian" || u.Rows[0].Bytes != 200 {
		t.Errorf("usage = %.300v, want debian's 200 bytes alone", u.Rows)
	}
	resp, _ = testenv.OperatorGet(url + "/metrics")
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `micromirror_watchtower_ignored_entries_total{reason="unknown_project"} 5100`) {
		t.Errorf("ignored entries not counted")
	}
}
