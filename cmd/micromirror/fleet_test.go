package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"micromirror/internal/inventory"
	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/telemetry"
	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

func TestFleetCheckExample(t *testing.T) {
	code, out, stderr := runCLI(t, "fleet", "check", "-inventory", "../../examples/fleet.yaml", "-offline")
	if code != 0 || !strings.Contains(out, "40 nodes (33 active, 5 planned, 2 retired), 13 projects (sizes: 13 catalog): 0 errors, 1 warnings") {
		t.Errorf("check example: %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "fleet"); code != 2 || !strings.Contains(stderr, "check") {
		t.Errorf("fleet without a command: %d %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "fleet", "frob"); code != 2 || !strings.Contains(stderr, `unknown command "frob"`) {
		t.Errorf("unknown fleet command: %d %q", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "fleet.yaml")
	os.WriteFile(bad, []byte("domain: mm.example.net\noperator: {name: X, contact: noc@mm.example.net}\nupstream: {host: up.example.net, root: /srv}\nnodes:\n  - sponsor: {slug: a, name: A}\n    asn: nope\n"), 0o644)
	code, _, stderr = runCLI(t, "fleet", "check", "-inventory", bad, "-offline")
	if code != 1 || !strings.Contains(stderr, `fleet.yaml:6: nodes[0].asn: "nope" is not an AS number`) {
		t.Errorf("bad inventory: %d %q", code, stderr)
	}
}

// testInventory is a three-node fleet; watchtower is its watchtower URL.
func testInventory(t *testing.T, dir, watchtowerURL, extra string) string {
	t.Helper()
	src := fmt.Sprintf(`domain: mm.example.net
operator: {name: Test Mirrors, contact: noc@mm.example.net}
upstream: {host: mirror.example.net, root: /srv/mirror}
watchtower: {url: %q}
%s
projects:
  debian: {min_nodes: 1}
  archlinux: {min_nodes: 1}
  gimp: {min_nodes: 0}
nodes:
  - sponsor: {slug: a, name: Alpha Net}
    ipv4: 192.0.2.1
    ipv6: "2001:db8::1"
    asn: 64500
    site: Building A
    location: {country: US, lat: 47.6, lon: -122.3}
    disk: 2TB
    nic: 1Gbit
    projects: [debian, archlinux]
  - sponsor: {slug: b, name: Beta Net}
    ipv4: 192.0.2.2
    ipv6: "2001:db8::2"
    asn: 64501
    site: Building B
    location: {country: US, lat: 40.7, lon: -74.0}
    disk: 2TB
    nic: 1Gbit
    projects: [debian]
  - sponsor: {slug: c, name: Gamma Net}
    status: planned
    ipv4: 192.0.2.3
    ipv6: "2001:db8::3"
    asn: 64502
    site: Building C
    location: {country: US, lat: 41.9, lon: -87.6}
    disk: 2TB
    nic: 1Gbit
    projects: auto
`, watchtowerURL, extra)
	p := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startTestWatchtower runs a watchtower on loopback for nodes; it returns
// its URL and its store.
func startTestWatchtower(t *testing.T, nodes []watchtower.NodeConfig) (string, watchtower.Store) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := watchtower.NewServer(watchtower.Config{Nodes: nodes, OperatorTokenSHA256: watchtower.HashToken(testenv.OperatorToken)}, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := srv.Open("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go srv.Serve("", "")
	t.Cleanup(func() { srv.Close(context.Background()) })
	return "http://" + srv.Addr(), store
}

// TestFleetCheckAndPlanWithWatchtower: sizes and demand come from a real
// watchtower on loopback; the plan is applied to the inventory.
func TestFleetCheckAndPlanWithWatchtower(t *testing.T) {
	url, store := startTestWatchtower(t, nil)
	yesterday := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
	traffic := func(project string, bytes uint64) telemetry.ProjectTraffic {
		return telemetry.ProjectTraffic{Project: project, Requests: map[string]uint64{"https": 1000}, Bytes: map[string]uint64{"https": bytes}}
	}
	for i, b := range []telemetry.Batch{
		{Node: "a.mm.example.net", Projects: []telemetry.ProjectTraffic{traffic("debian", 2e12), traffic("archlinux", 800e9)},
			Syncs: []telemetry.SyncEvent{{Project: "debian", Result: "success", Started: yesterday, TreeBytes: 1.9e12}}},
		{Node: "b.mm.example.net", Projects: []telemetry.ProjectTraffic{traffic("debian", 1.5e12)}},
	} {
		b.Version, b.Seq, b.Start, b.End = 1, uint64(i+1), yesterday, yesterday.Add(time.Minute)
		if _, err := store.Ingest(context.Background(), b, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	inv := testInventory(t, t.TempDir(), url, "")
	// The fleet tools read the API with the operator's token.
	os.WriteFile(filepath.Join(filepath.Dir(inv), "fleet-secrets.yaml"), []byte("watchtower_operator_token: "+testenv.OperatorToken+"\n"), 0o600)
	code, out, stderr := runCLI(t, "fleet", "check", "-inventory", inv)
	if code != 1 || !strings.Contains(out, "error [disk] a.mm.example.net: projects need 2.03 TB but 1.80 TB of the 2.00 TB disk is usable with 10% headroom: debian 1.90 TB (measured)") ||
		!strings.Contains(out, "sizes: 2 catalog, 1 measured") {
		t.Errorf("check: %d\n%s%s", code, out, stderr)
	}

	code, out, stderr = runCLI(t, "fleet", "plan", "-inventory", inv)
	if code != 0 || !strings.Contains(out, "demand from the watchtower, 28 days (3 rows)") ||
		!strings.Contains(out, "c.mm.example.net") || !strings.Contains(out, "+ archlinux") {
		t.Fatalf("plan: %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "fleet", "plan", "-inventory", inv, "-apply")
	if code != 0 || !strings.Contains(out, "wrote the placement of 1 auto nodes") {
		t.Fatalf("apply: %d %s", code, out)
	}
	src, _ := os.ReadFile(inv)
	if !strings.Contains(string(src), "    projects: auto\n    placement: [archlinux]\n") {
		t.Errorf("inventory after apply:\n%s", src)
	}
	code, out, _ = runCLI(t, "fleet", "plan", "-inventory", inv, "-json")
	var plan struct {
		Plan struct {
			Changes []any `json:"changes"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &plan); code != 0 || err != nil || len(plan.Plan.Changes) != 0 {
		t.Errorf("a second plan should change nothing: %d %v %s", code, err, out)
	}
}

func TestFleetPlanDemandCSV(t *testing.T) {
	dir := t.TempDir()
	inv := testInventory(t, dir, "http://127.0.0.1:1", "")
	csv := filepath.Join(dir, "demand.csv")
	os.WriteFile(csv, []byte("node,project,bytes\na.mm.example.net,debian,1TB\nb.mm.example.net,debian,1TB\n,gimp,400GB\n"), 0o644)
	code, out, stderr := runCLI(t, "fleet", "plan", "-inventory", inv, "-demand", csv, "-offline")
	if code != 0 || !strings.Contains(out, "+ gimp") || !strings.Contains(out, "from the inventory's demand figure") {
		t.Errorf("plan: %d\n%s%s", code, out, stderr)
	}
	os.WriteFile(csv, []byte("node,project,bytes\na.mm.example.net,debian,lots\n"), 0o644)
	if code, _, stderr := runCLI(t, "fleet", "plan", "-inventory", inv, "-demand", csv, "-offline"); code != 1 || !strings.Contains(stderr, "demand.csv:2: bytes: not a size") {
		t.Errorf("bad csv: %d %q", code, stderr)
	}
}

// TestFleetRenderBootsNode: secrets, render, and a node started from its
// rendered config pushes telemetry that the watchtower, started from the
// rendered node list, accepts: the token and its hash meet.
func TestFleetRenderBootsNode(t *testing.T) {
	dir := testenv.PublicTempDir(t) // checked as nobody's when the tests run as root
	nodeKeys := fmt.Sprintf(`node:
  user: nobody
  data_dir: %s
  state_dir: %s
  listen: {http: ["127.0.0.1:0"], https: [], rsync: [], admin: []}
  telemetry: {interval: 200ms}`, filepath.Join(dir, "data"), filepath.Join(dir, "state"))
	inv := testInventory(t, dir, "http://watchtower.invalid", nodeKeys)
	secrets := filepath.Join(dir, "secrets.yaml")
	code, out, stderr := runCLI(t, "fleet", "secrets", "-inventory", inv, "-secrets", secrets)
	if code != 0 || !strings.Contains(out, "3 telemetry tokens (a.mm.example.net, b.mm.example.net, c.mm.example.net)") {
		t.Fatalf("secrets: %d %q %q", code, out, stderr)
	}
	if fi, err := os.Stat(secrets); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode: %v %v", fi.Mode(), err)
	}
	// The operator's watchtower token, with the hash for watchtower.yaml.
	if sec, err := inventory.LoadSecrets(secrets); err != nil || sec.WatchtowerOperatorToken == "" ||
		!strings.Contains(out, "operator_token_sha256: "+watchtower.HashToken(sec.WatchtowerOperatorToken)) {
		t.Errorf("no operator token or its hash: %v\n%s", err, out)
	}
	if code, out, _ := runCLI(t, "fleet", "secrets", "-inventory", inv, "-secrets", secrets); code != 0 || !strings.Contains(out, "has every secret") {
		t.Errorf("second secrets run: %d %q", code, out)
	}
	out1 := filepath.Join(dir, "rendered")
	if wd, err := os.Getwd(); err == nil { // a relative output path, as people type it
		if rel, err := filepath.Rel(wd, out1); err == nil {
			out1 = rel
		}
	}
	if code, out, stderr := runCLI(t, "fleet", "render", "-inventory", inv, "-secrets", secrets, "-o", out1); code != 0 || !strings.Contains(out, "rendered 3 nodes and 2 upstream modules") {
		t.Fatalf("render: %d %q %q", code, out, stderr)
	}
	// The watchtower takes the rendered node list.
	nodes, err := watchtower.LoadNodes(filepath.Join(out1, "watchtower/nodes.yaml"))
	if err != nil || len(nodes) != 3 {
		t.Fatalf("rendered nodes: %v %v", nodes, err)
	}
	url, _ := startTestWatchtower(t, nodes)
	inv = testInventory(t, dir, url, nodeKeys)
	code, out, _ = runCLI(t, "fleet", "render", "-inventory", inv, "-secrets", secrets, "-o", out1)
	if code != 0 || !strings.Contains(out, "changed  nodes/a.mm.example.net/node.yaml") {
		t.Fatalf("second render: %d %q", code, out)
	}
	nodeYAML := filepath.Join(out1, "nodes/a.mm.example.net/node.yaml")
	if os.Geteuid() == 0 {
		// The node's user reads its token, as on a node the files are
		// installed for it.
		if u, err := user.Lookup("nobody"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			filepath.WalkDir(filepath.Join(out1, "nodes/a.mm.example.net/secrets"), func(p string, _ fs.DirEntry, _ error) error {
				return os.Chown(p, uid, -1)
			})
		}
	}
	if code, out, stderr := runCLI(t, "node", "-check", "-config", nodeYAML); code != 0 {
		t.Fatalf("node -check: %d %q %q", code, out, stderr)
	}
	cfg, err := nodeconfig.Load(nodeYAML)
	if err != nil {
		t.Fatal(err)
	}
	n := node.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := n.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for {
		var resp struct {
			Nodes []watchtower.NodeSummary `json:"nodes"`
		}
		if r, err := testenv.OperatorGet(url + "/api/v1/nodes"); err == nil {
			json.NewDecoder(r.Body).Decode(&resp)
			r.Body.Close()
		}
		for _, s := range resp.Nodes {
			if s.Node == "a.mm.example.net" && !s.LastSeen.IsZero() {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watchtower never accepted the rendered node's telemetry: %+v", resp.Nodes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFleetRegistrations(t *testing.T) {
	code, out, stderr := runCLI(t, "fleet", "registrations", "-inventory", "../../examples/fleet.yaml", "-format", "csv", "-project", "debian")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.HasPrefix(lines[0], "project,node,state,country") || len(lines) < 7 ||
		!strings.Contains(out, "debian,cascadefiber.mm.example.net,live,US,Seattle,Cascade Fiber,https://cascadefiber.example/,AS64496,") ||
		!strings.Contains(out, "https://cascadefiber.mm.example.net/debian/,rsync://cascadefiber.mm.example.net/debian/,https://www.debian.org/mirror/submit") {
		t.Errorf("csv: %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "fleet", "registrations", "-inventory", "../../examples/fleet.yaml", "-state", "submitted")
	if code != 0 || !strings.Contains(out, "gimp: register at https://developer.gimp.org/core/maintainer/mirrors/") || strings.Contains(out, " live ") {
		t.Errorf("table: %d\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "fleet", "registrations", "-inventory", "../../examples/fleet.yaml", "-format", "xml"); code != 2 || !strings.Contains(stderr, "want table, csv or json") {
		t.Errorf("bad format: %d %q", code, stderr)
	}

	// The public lists, served on loopback: debian's names a retired node.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `<a href="https://c.mm.example.net/debian/">c</a> <a href="http://a.mm.example.net/debian/">a</a>`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	inv := testInventory(t, dir, "http://127.0.0.1:1", "")
	src, _ := os.ReadFile(inv)
	os.WriteFile(inv, []byte(strings.Replace(string(src), "  debian: {min_nodes: 1}", "  debian: {min_nodes: 1, mirror_list: \""+srv.URL+"/debian\"}", 1)), 0o644)
	code, out, _ = runCLI(t, "fleet", "registrations", "-inventory", inv, "-lists", "-project", "debian")
	if code != 1 || !strings.Contains(out, "debian list ("+srv.URL+"/debian): 2 of the fleet's nodes listed") ||
		!strings.Contains(out, "listed, mark them live in the inventory: a.mm.example.net") ||
		!strings.Contains(out, "listed but not hosting it by the inventory: c.mm.example.net") {
		t.Errorf("lists: %d\n%s", code, out)
	}
}

func TestFleetSecretsRefusesOpenFile(t *testing.T) {
	dir := t.TempDir()
	inv := testInventory(t, dir, "http://127.0.0.1:1", "")
	secrets := filepath.Join(dir, "s.yaml")
	os.WriteFile(secrets, []byte("telemetry_tokens: {}\n"), 0o644)
	if code, _, stderr := runCLI(t, "fleet", "secrets", "-inventory", inv, "-secrets", secrets); code != 1 || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("open secrets file: %d %q", code, stderr)
	}
	os.Chmod(secrets, 0o600)
	os.WriteFile(secrets, []byte("telemetry_tokens: [s3cret-value\n"), 0o600)
	code, _, stderr := runCLI(t, "fleet", "render", "-inventory", inv, "-secrets", secrets, "-o", filepath.Join(dir, "out"))
	if code != 1 || !strings.Contains(stderr, "is malformed") || strings.Contains(stderr, "s3cret") {
		t.Errorf("malformed secrets: %d %q", code, stderr)
	}
}
