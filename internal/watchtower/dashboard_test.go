package watchtower_test

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/store/sqlite"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// TestDashboardInBrowser fills a store with a day of two nodes' telemetry
// and renders the fleet and node pages in headless Chromium: the DOM holds
// the grid and the SVG charts, and the screenshot is a real picture.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	for ni, node := range []string{"ziply.mm.example.net", "sonic.mm.example.net"} {
		var rx, tx uint64
		for i := 0; i < 24*6; i++ { // every 10 minutes for a day, the last ending now (so today has one at any hour)
			end := now.Add(-time.Duration(24*6-1-i) * 10 * time.Minute)
			by := uint64(1e9 + 5e8*float64((i+ni*30)%72)/72)
			rx, tx = rx+by/50, tx+by
			b := telemetry.Batch{Version: 1, Node: node, Seq: uint64(i + 1), Start: end.Add(-10 * time.Minute), End: end,
				Projects: []telemetry.ProjectTraffic{{Project: "debian", Requests: map[string]uint64{"http": 1000}, Bytes: map[string]uint64{"http": by}}},
				System:   telemetry.System{Version: "v0.3", DiskFree: 4e11, DiskTotal: 2e12, NetRxBytes: rx, NetTxBytes: tx},
				MQTT:     &telemetry.MQTTState{Connected: ni == 0},
				Top:      []telemetry.PathCount{{Project: "debian", Path: "/debian/dists/trixie/InRelease", Requests: 500, Bytes: 5e6}},
				Checkers: []telemetry.CheckerVisit{{Checker: "mirrorbits", Requests: 3, Status: map[string]uint64{"2xx": 3}, Last: end}}}
			temp, wear := 40+float64(i%12), 7.0
			b.Health = &telemetry.Health{Temps: []telemetry.Temp{{Chip: "coretemp", Label: "Package id 0", C: temp}},
				Disks: []telemetry.DiskHealth{{Device: "/dev/nvme0", Model: "Samsung SSD 980 1TB", WearPercent: &wear}},
				Clock: &telemetry.ClockState{Synced: true}, Missing: []string{"hwmon: no drive sensor"}}
			if i%6 == 0 { // a run an hour, the one at 18:00 failing
				res := "success"
				if i%36 == 18 {
					res = "transient"
				}
				b.Syncs = []telemetry.SyncEvent{{Project: "debian", Started: end.Add(-5 * time.Minute), Seconds: float64(30 + i), Result: res,
					BytesReceived: int64(i) << 20, Files: int64(i)}}
			}
			if i == 24*6-1 {
				b.Syncs = []telemetry.SyncEvent{{Project: "debian", Started: end.Add(-time.Minute), Result: "success", LastSuccess: end.Add(-30 * time.Second)},
					{Project: "archlinux", Started: end.Add(-time.Minute), Result: "transient", LastSuccess: end.Add(-30 * time.Hour)}}
			}
			if _, err := store.Ingest(context.Background(), b, end); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := watchtower.Config{OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken), Nodes: []watchtower.NodeConfig{
		{Name: "ziply.mm.example.net", Sponsor: "Ziply Fiber", SponsorURL: "https://ziplyfiber.com/", Country: "US"}}}
	base := "http://" + serveWatchtower(t, cfg, store).Addr()

	dom := testenv.BrowserDOM(t, base+"/")
	for _, want := range []string{"ziply.mm.example.net", "sonic.mm.example.net", "<svg", "<polyline", `class="ok"`, `class="bad"`, "archlinux",
		"served, last 24 hours", "/debian/dists/trixie/InRelease", "per project per hour", "Ziply Fiber", ">US<", `href="/?range=7d"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("fleet page lacks %q", want)
		}
	}
	if n := strings.Count(dom, "<polyline"); n != 1 {
		t.Errorf("fleet page has %d chart lines, want 1 (bandwidth; the projects are bars)", n)
	}
	if n := strings.Count(dom, "<rect"); n < 2+1 { // debian's bars and legend, at least
		t.Errorf("fleet page has %d rects: no bars for the projects", n)
	}
	// The public page shows states, not why, and links to no node page.
	if strings.Contains(dom, `href="/nodes/`) || strings.Contains(dom, "open alerts") || !strings.Contains(dom, "state-") {
		t.Errorf("the public page shows the operator's view")
	}
	for _, rg := range []string{"7d", "30d"} {
		page := testenv.BrowserDOM(t, base+"/?range="+rg)
		if !strings.Contains(page, "per project per day") || !strings.Contains(page, "<polyline") {
			t.Errorf("range %s: no daily bars or bandwidth line", rg)
		}
	}
	if out := testenv.BrowserDOM(t, base+"/nodes/ziply.mm.example.net"); strings.Contains(out, "mirrorbits") {
		t.Errorf("a node page served without the operator's token")
	}
	opDOM := testenv.BrowserDOM(t, testenv.OperatorURL(base+"/fleet"))
	if !strings.Contains(opDOM, `href="/nodes/ziply.mm.example.net"`) || !strings.Contains(opDOM, "open alerts") || !strings.Contains(opDOM, "v0.3") {
		t.Errorf("the operator's view lacks node links, alerts or versions")
	}
	nodeDOM := testenv.BrowserDOM(t, testenv.OperatorURL(base+"/nodes/ziply.mm.example.net"))
	for _, want := range []string{"NIC out", "served (HTTP/rsync)", "connected", "disk free", "mirrorbits", "Sync runs", "transient",
		"hottest sensor", "51 °C", "Samsung SSD 980 1TB", "7%", "synced", "hwmon: no drive sensor", "Hosted by Ziply Fiber"} {
		if !strings.Contains(nodeDOM, want) {
			t.Errorf("node page lacks %q", want)
		}
	}
	if n := strings.Count(nodeDOM, "<polyline"); n != 3+1 {
		t.Errorf("node page has %d chart lines, want 4 (bandwidth: served, NIC in and out; the hottest sensor)", n)
	}
	if n := strings.Count(nodeDOM, "<circle"); n < 20 {
		t.Errorf("node page has %d dots, want a day of hourly sync runs", n)
	}
	sponsor := testenv.BrowserDOM(t, base+"/sponsors/ziply.mm.example.net")
	for _, want := range []string{`href="https://ziplyfiber.com/"`, "Ziply Fiber", "served in " + now.Format("January 2006"), "Served per month", "debian"} {
		if !strings.Contains(sponsor, want) {
			t.Errorf("sponsor page lacks %q", want)
		}
	}
	if strings.Contains(sponsor, "mirrorbits") || strings.Contains(sponsor, "/nodes/") {
		t.Errorf("the sponsor page shows the operator's detail")
	}
	shot := testenv.Screenshot(t, base+"/", 1200, 900)
	f, _ := os.Open(shot)
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// Not blank: count distinct colours in the picture.
	colours := map[uint32]bool{}
	bnds := img.Bounds()
	for y := bnds.Min.Y; y < bnds.Max.Y; y += 7 {
		for x := bnds.Min.X; x < bnds.Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if bnds.Dx() != 1200 || len(colours) < 8 {
		t.Errorf("screenshot %dx%d with %d colours looks blank", bnds.Dx(), bnds.Dy(), len(colours))
	}
	// MM_KEEP_SCREENSHOTS=DIR keeps pictures of the pages to look at.
	if dir := os.Getenv("MM_KEEP_SCREENSHOTS"); dir != "" {
		for name, u := range map[string]string{"overview": base + "/", "overview-30d": base + "/?range=30d",
			"fleet": testenv.OperatorURL(base + "/fleet"), "node": testenv.OperatorURL(base + "/nodes/ziply.mm.example.net"),
			"sponsor": base + "/sponsors/ziply.mm.example.net"} {
			data, _ := os.ReadFile(testenv.Screenshot(t, u, 1200, 2400))
			os.WriteFile(filepath.Join(dir, name+".png"), data, 0o644)
		}
	}
}
