package watchtower_test

import (
	"encoding/json"
	"fmt"
	"io"
	"micromirror/internal/testenv"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"micromirror/internal/telemetry"
)

// scrape returns the /metrics text and the names of the series in it.
func scrape(t *testing.T, url string) (string, map[string]bool) {
	t.Helper()
	resp, err := testenv.OperatorGet(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			names[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
		}
	}
	return string(b), names
}

// TestMetricsPerNodeAndProject: /metrics carries a series per node (state,
// last seen, version, disk, bytes served today) and per project on each
// node (last success, lag, failures in a row, size), as the API shows
// them, so an existing Prometheus can alert on a stale project.
func TestMetricsPerNodeAndProject(t *testing.T) {
	url := startWatchtower(t)
	now := time.Now().UTC()
	success := now.Add(-90 * time.Second).Truncate(time.Second)
	b, _ := json.Marshal(telemetry.Batch{Version: 1, Node: "a.mm.example.net", Seq: 1, Start: now.Add(-time.Minute), End: now,
		Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 3}, Bytes: map[string]uint64{"http": 4096}}},
		Syncs: []telemetry.SyncEvent{
			{Project: "debian", Started: success.Add(-time.Minute), Seconds: 60, Result: "success", LastSuccess: success, TreeBytes: 123456},
			{Project: "gimp", Started: now.Add(-time.Minute), Seconds: 5, Result: "failed"}},
		System: telemetry.System{Version: "1.2.3", DiskTotal: 2e12, DiskFree: 5e11}})
	if code, body := post(t, url, "token-a", b, false); code != http.StatusAccepted && code != http.StatusOK {
		t.Fatalf("ingest: %d %s", code, body)
	}
	text, _ := scrape(t, url)
	for _, want := range []string{
		`micromirror_node_state{node="a.mm.example.net",state="ok"} 1`,
		`micromirror_node_state{node="a.mm.example.net",state="down"} 0`,
		`micromirror_node_info{node="a.mm.example.net",version="1.2.3"} 1`,
		`micromirror_node_disk_free_bytes{node="a.mm.example.net"} 5e+11`,
		`micromirror_node_disk_size_bytes{node="a.mm.example.net"} 2e+12`,
		fmt.Sprintf(`micromirror_project_last_success_timestamp_seconds{node="a.mm.example.net",project="debian"} %g`, float64(success.Unix())),
		`micromirror_project_tree_bytes{node="a.mm.example.net",project="debian"} 123456`,
		`micromirror_project_consecutive_failures{node="a.mm.example.net",project="gimp"} 1`,
		`micromirror_project_lag_seconds{node="a.mm.example.net",project="debian"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if now.Sub(now.Truncate(24*time.Hour)) > 2*time.Minute && !strings.Contains(text, `micromirror_node_served_bytes_today{node="a.mm.example.net"} 4096`) {
		t.Error("metrics lack the node's bytes served today")
	}
}

// TestGrafanaDashboardUsesRealSeries: the dashboard shipped in
// docs/grafana loads as JSON, and every metric its queries name is one
// the watchtower exports.
func TestGrafanaDashboardUsesRealSeries(t *testing.T) {
	url := startWatchtower(t)
	now := time.Now().UTC()
	b, _ := json.Marshal(telemetry.Batch{Version: 1, Node: "a.mm.example.net", Seq: 1, Start: now.Add(-time.Minute), End: now,
		Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 1}, Bytes: map[string]uint64{"http": 1}}},
		Syncs:    []telemetry.SyncEvent{{Project: "debian", Started: now, Result: "success", LastSuccess: now}},
		System:   telemetry.System{Version: "1", DiskTotal: 1, DiskFree: 1},
		Health: &telemetry.Health{Temps: []telemetry.Temp{{Chip: "k10temp", Label: "Tctl", C: 50}}, Clock: &telemetry.ClockState{Synced: true},
			Disks: []telemetry.DiskHealth{{Device: "/dev/nvme0", WearPercent: new(float64)}}, NICs: []telemetry.NICCounters{{Name: "eth0"}}}})
	post(t, url, "token-a", b, false)
	_, exported := scrape(t, url)
	exported["micromirror_fleet_alerts_open"] = true // present only while an alert is open
	exported["micromirror_node_alerts_open"] = true

	src, err := os.ReadFile("../../docs/grafana/micromirror-fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(src, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	metric := regexp.MustCompile(`micromirror_[a-z_]+`)
	queries := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			queries++
			names := metric.FindAllString(q.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no micromirror series", p.Title, q.Expr)
			}
			for _, n := range names {
				if !exported[n] {
					t.Errorf("panel %q: %s is not exported", p.Title, n)
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries in the dashboard", queries)
	}
}

// TestMetricsHealth: the last health report's figures are series per
// node, sensor, drive and NIC; what the node could not read is absent,
// not 0; a report naming a drive twice does not fail the scrape.
func TestMetricsHealth(t *testing.T) {
	url := startWatchtower(t)
	now := time.Now().UTC()
	wear, temp, ok := 12.0, 41.0, true
	disk := telemetry.DiskHealth{Device: "/dev/nvme0", Model: "WD Blue SN570", WearPercent: &wear, TempC: &temp, Passed: &ok}
	b, _ := json.Marshal(telemetry.Batch{Version: 1, Node: "a.mm.example.net", Seq: 1, Start: now.Add(-time.Minute), End: now,
		System: telemetry.System{Version: "1"},
		Health: &telemetry.Health{
			Disks: []telemetry.DiskHealth{disk, disk, {Device: "/dev/sda", Model: "no SMART"}},
			Temps: []telemetry.Temp{{Chip: "coretemp", Label: "Package id 0", C: 52}, {Chip: "coretemp", Label: "Package id 0", C: 53}},
			Clock: &telemetry.ClockState{Synced: false},
			NICs:  []telemetry.NICCounters{{Name: "eno1", RxErrors: 2, TxDropped: 3}}}})
	if code, body := post(t, url, "token-a", b, false); code != http.StatusAccepted && code != http.StatusOK {
		t.Fatalf("ingest: %d %s", code, body)
	}
	text, _ := scrape(t, url)
	for _, want := range []string{
		`micromirror_node_temperature_celsius{chip="coretemp",node="a.mm.example.net",sensor="Package id 0"} 52`,
		`micromirror_node_drive_temperature_celsius{device="/dev/nvme0",node="a.mm.example.net"} 41`,
		`micromirror_node_drive_endurance_used_ratio{device="/dev/nvme0",node="a.mm.example.net"} 0.12`,
		`micromirror_node_drive_smart_passed{device="/dev/nvme0",node="a.mm.example.net"} 1`,
		`micromirror_node_clock_synced{node="a.mm.example.net"} 0`,
		`micromirror_node_nic_errors_total{nic="eno1",node="a.mm.example.net"} 5`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, `device="/dev/sda"`) {
		t.Error("a drive without SMART figures has series (missing must not read as 0)")
	}
}
