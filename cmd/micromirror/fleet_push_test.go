package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"micromirror/internal/mqtt"
	"micromirror/internal/syncer"
	"micromirror/internal/testenv"
)

// TestThreeNodeProcessesOnePublish: three `micromirror node` processes
// subscribed to one Mosquitto; one announcement starts the sync on all
// three.
func TestThreeNodeProcessesOnePublish(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	bin := testenv.Binary(t)
	broker := testenv.StartMosquitto(t)
	src := t.TempDir()
	up := testenv.StartUpstream(t, map[string]string{"gimp": src})
	testenv.WriteFile(t, filepath.Join(src, "gimp-3.0.tar.xz"), []byte("v1"), time.Now().Add(-time.Hour))

	var sockets []string
	for i := range 3 {
		dir := testenv.PublicTempDir(t) // run as root, the node becomes nobody
		cfg := fmt.Sprintf(`name: n%d.mm.example.net
sponsor: {name: Sponsor %d}
contact: noc@mm.example.net
data_dir: data
state_dir: state
user: nobody
listen: {http: ["127.0.0.1:%d"], https: [], rsync: [], admin: []}
mqtt: {broker: "%s", topics: ["rsync/up.example.net/#"]}
projects: [{name: gimp, source: "%s"}]
`, i, i, testenv.FreePort(t), broker.URL(), up.URL("gimp"))
		os.WriteFile(filepath.Join(dir, "node.yaml"), []byte(cfg), 0o644)
		cmd := exec.Command(bin, "node", "-config", filepath.Join(dir, "node.yaml"), "-log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		sockets = append(sockets, filepath.Join(dir, "state/admin.sock"))
	}
	status := func(sock string) (syncer.ProjectStatus, mqtt.Stats) {
		var ps []syncer.ProjectStatus
		var ms mqtt.Stats
		c := newAdminClient(sock)
		if c.do(t.Context(), "GET", "/api/v1/projects", &ps) != nil || len(ps) != 1 {
			return syncer.ProjectStatus{}, ms
		}
		c.do(t.Context(), "GET", "/api/v1/mqtt", &ms)
		return ps[0], ms
	}
	waitAll := func(what string, cond func(syncer.ProjectStatus, mqtt.Stats) bool) {
		t.Helper()
		for _, sock := range sockets {
			deadline := time.Now().Add(30 * time.Second)
			for {
				ps, ms := status(sock)
				if cond(ps, ms) {
					break
				}
				if time.Now().After(deadline) {
					b, _ := json.Marshal(ps)
					t.Fatalf("%s: timed out on %s: %s %+v", what, sock, b, ms)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	waitAll("start-up sync and subscription", func(p syncer.ProjectStatus, m mqtt.Stats) bool {
		return p.Runs >= 1 && p.State == "idle" && m.Connected
	})
	time.Sleep(500 * time.Millisecond) // let a retained-message run (if any) finish
	before := map[string]uint64{}
	for _, sock := range sockets {
		p, _ := status(sock)
		before[sock] = p.Runs
	}
	code, out, stderr := runCLI(t, "announce", "-broker", broker.URL(), "-upstream", "up.example.net", "gimp")
	if code != 0 {
		t.Fatalf("announce: %d %s %s", code, out, stderr)
	}
	for _, sock := range sockets {
		deadline := time.Now().Add(30 * time.Second)
		for {
			p, _ := status(sock)
			if p.Runs > before[sock] && p.Trigger == "mqtt" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s did not sync on the announcement: %+v", sock, p.Project)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
