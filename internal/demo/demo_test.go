package demo_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"micromirror/internal/demo"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// TestConstellationEndToEnd runs the demo topology: after the upstream
// publishes hello 2.0 and the announcer announces it, every node holding
// debian syncs by the change journal; apt-get through one node gets the new version; the
// watchtower shows that node's bytes served for debian and its fresh sync.
func TestConstellationEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	for _, bin := range []string{"rsync", "dpkg-deb", "apt-ftparchive", "apt-get"} {
		testenv.RequireBinary(t, bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	checked := false
	err := demo.Run(ctx, demo.Options{Dir: t.TempDir(), Keep: true, Out: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Ready: func(c *demo.Constellation) {
			defer cancel()
			t.Logf("publish -> new version served on every debian node: %s", c.UpdateLatency.Round(time.Millisecond))
			// The announcer's journal carried the update: journal runs
			// (the run ends after its deletion pass, when 2.0 is served).
			for i, n := range c.Nodes[:2] {
				kind := func() string {
					for _, p := range n.ProjectStatus() {
						if p.Name == "debian" && p.LastRun != nil {
							return p.LastRun.Kind
						}
					}
					return ""
				}
				for deadline := time.Now().Add(20 * time.Second); kind() != "journal" && time.Now().Before(deadline); {
					time.Sleep(20 * time.Millisecond)
				}
				if kind() != "journal" {
					log, _ := os.ReadFile(filepath.Join(c.Configs[i].StateDir, "logs/debian/latest"))
					t.Errorf("debian's update on %s was not a journal run (%q):\n%s", c.Configs[i].Name, kind(), log)
				}
			}
			ziply := c.Nodes[0]
			apt := testenv.NewApt(t, "deb [trusted=yes] http://"+ziply.HTTPAddrs()[0].String()+"/debian stable main")
			if out, err := apt.Run("update"); err != nil {
				t.Fatalf("apt-get update: %v\n%s", err, out)
			}
			if out, err := apt.Run("download", "hello"); err != nil {
				t.Fatalf("apt-get download: %v\n%s", err, out)
			}
			if _, err := os.Stat(filepath.Join(apt.WorkDir(), "hello_2.0_amd64.deb")); err != nil {
				t.Fatalf("apt did not get the new version: %v", err)
			}
			// The watchtower learns within a telemetry interval or two.
			deadline := time.Now().Add(30 * time.Second)
			for {
				var usage struct {
					Rows []watchtower.UsageRow `json:"rows"`
				}
				var nodes struct {
					Nodes []watchtower.NodeSummary `json:"nodes"`
				}
				getJSON(t, c.Watchtower+"/api/v1/usage?group=node", c.OperatorToken, &usage)
				getJSON(t, c.Watchtower+"/api/v1/nodes", c.OperatorToken, &nodes)
				var served uint64
				for _, r := range usage.Rows {
					if r.Key == c.Configs[0].Name {
						served = r.Bytes
					}
				}
				fresh, ownProject := false, false
				for _, n := range nodes.Nodes {
					for _, p := range n.Projects {
						if n.Node == c.Configs[0].Name && p.Project == "debian" && time.Since(p.LastSuccess) < time.Minute && p.LagSeconds == 0 {
							fresh = true
						}
						// The demo's own project, not a catalog recipe, is
						// in the watchtower's node list, so its syncs count.
						if n.Node == c.Configs[2].Name && p.Project == "releases" && !p.LastSuccess.IsZero() {
							ownProject = true
						}
					}
				}
				if served > 2000 && fresh && ownProject { // the .deb alone is larger than the probes' pages
					checked = true
					return
				}
				if time.Now().After(deadline) {
					t.Errorf("watchtower never showed the node's traffic, fresh sync and own project: served %d, nodes %+v", served, nodes.Nodes)
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}})
	if err != nil && ctx.Err() == nil {
		t.Fatalf("demo: %v", err)
	}
	if !checked && !t.Failed() {
		t.Fatal("the demo never reached the update")
	}
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(v)
}
