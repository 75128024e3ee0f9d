package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
)

// deployNode is a node host of the test: a directory standing for its
// root, and a supervisor that runs the node from {dir}/etc/node.yaml and
// starts it again when it ends (as systemd would), writing its pid.
type deployNode struct {
	dir, http string
}

func startSupervised(t *testing.T, bin string) *deployNode {
	t.Helper()
	n := &deployNode{dir: testenv.PublicTempDir(t)}
	n.http = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	os.MkdirAll(filepath.Join(n.dir, "etc"), 0o755)
	script := fmt.Sprintf(`while [ ! -e %[1]s/stop ]; do
  if [ -f %[1]s/etc/node.yaml ]; then %[2]s node -config %[1]s/etc/node.yaml -log-level warn 2>>%[1]s/node.log & echo $! > %[1]s/node.pid; wait $!; fi
  sleep 0.2
done`, n.dir, bin)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(n.dir, "stop"), nil, 0o644)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	})
	return n
}

// TestFleetDeploy: fleet deploy over a real sshd to nodes that run from
// the files it writes. A first rollout brings both nodes up; a dry run
// shows the next change and changes nothing; a good change reaches both
// nodes by reload; a broken one (a listen address the node's public
// address does not reach) fails on the first node's health check, which
// gets its previous config back and serves it, and the second node is
// not touched; a config the node's own check refuses never replaces the
// running one.
func TestFleetDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	testenv.RequireBinary(t, "rsync")
	sshConfig := testenv.StartSSHD(t, "", "node-a", "node-b").Config
	bin := testenv.Binary(t)
	a, b := startSupervised(t, bin), startSupervised(t, bin)
	dir := t.TempDir()
	src := t.TempDir()
	testenv.WriteFile(t, filepath.Join(src, "gimp-3.0.tar.xz"), []byte("gimp"), time.Time{})
	up := testenv.StartUpstream(t, map[string]string{"gimp": src})
	// The watchtower, its node list deployed to it like the nodes' configs.
	wtDir := t.TempDir()
	wtPort := testenv.FreePort(t)
	os.WriteFile(filepath.Join(wtDir, "nodes.yaml"), []byte("nodes: []\n"), 0o644)
	os.WriteFile(filepath.Join(wtDir, "watchtower.yaml"), []byte(fmt.Sprintf("listen: 127.0.0.1:%d\ndb: %s/wt.db\nnodes_file: %s/nodes.yaml\noperator_token_sha256: %s\n",
		wtPort, wtDir, wtDir, watchtower.HashToken(testenv.OperatorToken))), 0o644)
	wt := exec.Command(bin, "watchtower", "-config", filepath.Join(wtDir, "watchtower.yaml"), "-log-level", "warn")
	if err := wt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wt.Process.Kill(); wt.Wait() })
	wtURL := fmt.Sprintf("http://127.0.0.1:%d", wtPort)
	modules := filepath.Join(t.TempDir(), "announce-modules.yaml")
	inventory := func(sponsorA, listenA, extraA, module string) string {
		p := filepath.Join(dir, "fleet.yaml")
		node := func(n *deployNode, name, listen, ssh, extra string) string {
			return fmt.Sprintf(`  - sponsor: {slug: %[1]s, name: %[2]s}
    ipv4: 127.0.0.1
    asn: %[6]d
    site: Building %[1]s
    location: {country: US, lat: 47.6, lon: -122.3}
    disk: 2TB
    nic: 1Gbit
    projects: [gimp]
    ssh: %[5]s
    deploy:
      config_dir: %[3]s/etc
      reload: kill -HUP "$(cat %[3]s/node.pid)"
      restart: p="$(cat %[3]s/node.pid 2>/dev/null)"; kill "$p" 2>/dev/null || true; while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
      install: dpkg --root=%[3]s/root --force-script-chrootless -i
    node:
      user: nobody
      data_dir: %[3]s/srv
      state_dir: %[3]s/state
      listen: {http: ["%[4]s"], https: [], rsync: [], admin: []}%[7]s
`, name, sponsorFor(name, sponsorA), n.dir, listen, ssh, 64500+len(name)+len(ssh), extra)
		}
		src := `domain: mm.example.net
operator: {name: Test Mirrors, contact: noc@mm.example.net}
upstream: {host: mirror.example.net, root: /srv/mirror}
watchtower: {url: "` + wtURL + `"}
deploy:
  micromirror: ` + bin + `
  watchtower: {ssh: node-a, path: ` + wtDir + `/nodes.yaml, reload: "kill -HUP ` + fmt.Sprint(wt.Process.Pid) + `", health: "` + wtURL + `/healthz"}
  announce: {ssh: node-b, path: ` + modules + `, reload: "true"}
node:
  telemetry: {interval: 200ms}
projects:
  gimp: {min_nodes: 1, source: "` + up.URL(module) + `"}
nodes:
` + node(a, "a", listenA, "node-a", extraA) + node(b, "b", b.http, "node-b", "")
		os.WriteFile(p, []byte(src), 0o644)
		return p
	}
	inv := inventory("Alpha Net", a.http, "", "gimp")
	secrets := filepath.Join(dir, "secrets.yaml")
	if code, _, stderr := runCLI(t, "fleet", "secrets", "-inventory", inv, "-secrets", secrets); code != 0 {
		t.Fatalf("secrets: %s", stderr)
	}
	deployCLI := func(args ...string) (int, string, string) {
		return runCLI(t, append([]string{"fleet", "deploy", "-inventory", inv, "-secrets", secrets, "-ssh-config", sshConfig,
			"-health-timeout", "15s", "-settle", "1s"}, args...)...)
	}
	serves := func(n *deployNode, sponsor string) bool {
		out, err := testenv.Curl(t, "-H", "Host: x", "http://"+n.http+"/")
		return err == nil && strings.Contains(out, sponsor)
	}

	// First rollout: nothing on the nodes yet.
	start := time.Now()
	code, out, stderr := deployCLI()
	if code != 0 || !strings.Contains(out, "a.mm.example.net: deployed (restart)") || !strings.Contains(out, "b.mm.example.net: deployed (restart)") {
		t.Fatalf("first rollout: %d\n%s\n%s\nnode a log:\n%s", code, out, stderr, readFile(filepath.Join(a.dir, "node.log")))
	}
	t.Logf("first rollout, 2 nodes: %v\n%s", time.Since(start).Round(time.Millisecond), out)
	if !serves(a, "Alpha Net") || !serves(b, "Beta Net") {
		t.Fatal("the nodes do not serve their configs")
	}
	if !strings.Contains(out, "watchtower: "+wtDir+"/nodes.yaml deployed") || !strings.Contains(out, "announcer: "+modules+" deployed") {
		t.Errorf("the watchtower's and the announcer's lists not deployed:\n%s", out)
	}
	// Each host has what fleet render writes for it.
	rendered := filepath.Join(dir, "rendered")
	if code, _, stderr := runCLI(t, "fleet", "render", "-inventory", inv, "-secrets", secrets, "-o", rendered); code != 0 {
		t.Fatalf("render: %s", stderr)
	}
	for deployed, want := range map[string]string{modules: "announce/modules.yaml", filepath.Join(wtDir, "nodes.yaml"): "watchtower/nodes.yaml",
		filepath.Join(a.dir, "etc/node.yaml"): "nodes/a.mm.example.net/node.yaml"} {
		if got := readFile(deployed); got == "" || got != readFile(filepath.Join(rendered, want)) {
			t.Errorf("%s is not the rendered %s:\n%s", deployed, want, got)
		}
	}
	// The watchtower took the deployed node list: both nodes push to it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := testenv.Curl(t, "-H", "Authorization: Bearer "+testenv.OperatorToken, wtURL+"/api/v1/nodes")
		if strings.Count(out, `"last_seen":"2`) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes do not push to the watchtower: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, out, _ := deployCLI(); code != 0 || !strings.Contains(out, "4 up to date") {
		t.Errorf("a second rollout of the same: %d\n%s", code, out)
	}

	// -deb: the package for the host's architecture goes in first (on
	// the hosts' own dpkg databases), then the node restarts into it; a
	// host no package is for is a failure that changes nothing there.
	arch, other := hostArch(t), "arm64"
	if arch == "arm64" {
		other = "amd64"
	}
	native, foreign := testDeb(t, "mm-deploy-test", "1.1", arch), testDeb(t, "mm-deploy-test", "1.1", other)
	for _, n := range []*deployNode{a, b} {
		testenv.DpkgRoot(t, filepath.Join(n.dir, "root"))
	}
	code, out, stderr = deployCLI("-deb", foreign, "-only", "a.mm.example.net")
	if code == 0 || !strings.Contains(out, "a.mm.example.net: FAILED: the host is "+arch+" and -deb has packages for "+other+" only") {
		t.Errorf("-deb for another architecture: %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = deployCLI("-deb", foreign+","+native, "-only", "a.mm.example.net")
	if code != 0 || !strings.Contains(out, "a.mm.example.net: deployed (restart)") || strings.Contains(out, "b.mm.example.net") {
		t.Fatalf("-deb rollout: %d\n%s\n%s", code, out, stderr)
	}
	if got := readFile(filepath.Join(a.dir, "root/usr/share/mm-deploy-test/version")); got != "1.1 "+arch+"\n" {
		t.Errorf("-deb installed on node a: %q", got)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "root/usr/share/mm-deploy-test")); err == nil {
		t.Error("-only a.mm.example.net installed the package on node b")
	}
	if !serves(a, "Alpha Net") {
		t.Error("node a does not serve after the package rollout")
	}

	// A dry run shows the change and makes none.
	inv = inventory("Alpha Networks", a.http, "", "gimp")
	code, out, _ = deployCLI("-dry-run")
	if code != 0 || !strings.Contains(out, "a.mm.example.net: would change") || !strings.Contains(out, "Alpha Networks") ||
		!strings.Contains(out, "b.mm.example.net: up to date") {
		t.Errorf("dry run: %d\n%s", code, out)
	}
	t.Logf("dry run:\n%s", out)
	if !serves(a, "Alpha Net") || serves(a, "Alpha Networks") {
		t.Error("the dry run changed node a")
	}

	// A good change: both nodes by reload.
	start = time.Now()
	code, out, stderr = deployCLI("-parallel", "2")
	if code != 0 || !strings.Contains(out, "a.mm.example.net: deployed (reload)") {
		t.Fatalf("good rollout: %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("good rollout (reload): %v", time.Since(start).Round(time.Millisecond))
	if !serves(a, "Alpha Networks") {
		t.Errorf("node a does not serve the new config; node a log:\n%s", readFile(filepath.Join(a.dir, "node.log")))
	}

	// A config the node's check refuses: never in place.
	inv = inventory("Alpha Broken", a.http, "\n      limits: {blocklist: /nonexistent/blocklist}", "gimp")
	code, out, stderr = deployCLI()
	if code == 0 || !strings.Contains(out, "node -check on the node refused") {
		t.Errorf("refused config: %d\n%s\n%s", code, out, stderr)
	}
	if !serves(a, "Alpha Networks") {
		t.Errorf("node a lost its running config to a refused one:\n%s\nnode a log:\n%s", out, readFile(filepath.Join(a.dir, "node.log")))
	}

	// A broken change: node a is told to listen where its public address
	// does not reach. It fails its health check, gets its previous config
	// back and serves it; node b is not touched.
	before, _ := os.ReadFile(filepath.Join(b.dir, "etc/node.yaml"))
	inv = inventory("Alpha Moved", "127.0.0.2:"+strings.Split(a.http, ":")[1], "", "gimp")
	code, out, stderr = deployCLI("-health-timeout", "3s")
	if code == 0 || !strings.Contains(out, "a.mm.example.net: FAILED") || !strings.Contains(out, "the previous config is back") {
		t.Fatalf("broken rollout: %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "1 failed, 1 skipped") {
		t.Errorf("the rollout did not stop at the first failure:\n%s", out)
	}
	deadline = time.Now().Add(15 * time.Second)
	for !serves(a, "Alpha Networks") {
		if time.Now().After(deadline) {
			t.Fatalf("node a does not serve its previous config after the rollback")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if after, _ := os.ReadFile(filepath.Join(b.dir, "etc/node.yaml")); string(after) != string(before) {
		t.Error("node b was touched after node a failed")
	}

	// A change the node takes but cannot sync with: the portfolio names a
	// module the upstream does not have. Node a comes up, its sync fails
	// within the settle time, and it gets the previous config back.
	inv = inventory("Alpha Networks", a.http, "", "nosuch")
	code, out, stderr = deployCLI()
	if code == 0 || !strings.Contains(out, "a.mm.example.net: FAILED") || !strings.Contains(out, "gimp failed") ||
		!strings.Contains(out, "the previous config is back") || !strings.Contains(out, "1 failed, 1 skipped") {
		t.Errorf("a source the upstream does not have: %d\n%s\n%s", code, out, stderr)
	}
	if cfg := readFile(filepath.Join(a.dir, "etc/node.yaml")); !strings.Contains(cfg, up.URL("gimp")) {
		t.Errorf("node a's config after the rollback:\n%s", cfg)
	}

	// -only names a node the inventory does not have: nothing happens.
	if code, _, stderr := deployCLI("-only", "c.mm.example.net"); code != 1 || !strings.Contains(stderr, "-only c.mm.example.net: no such live node") {
		t.Errorf("-only with an unknown node: %d %s", code, stderr)
	}
}

// testDeb builds a package of one file, /usr/share/<name>/version.
func testDeb(t *testing.T, name, version, arch string) string {
	t.Helper()
	testenv.RequireBinary(t, "dpkg-deb")
	stage := t.TempDir()
	os.MkdirAll(filepath.Join(stage, "DEBIAN"), 0o755)
	os.MkdirAll(filepath.Join(stage, "usr/share", name), 0o755)
	os.WriteFile(filepath.Join(stage, "DEBIAN/control"), []byte(fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n"+
		"Maintainer: test <t@example.net>\nDescription: fleet deploy test package\n", name, version, arch)), 0o644)
	os.WriteFile(filepath.Join(stage, "usr/share", name, "version"), []byte(version+" "+arch+"\n"), 0o644)
	deb := filepath.Join(t.TempDir(), name+"_"+version+"_"+arch+".deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", stage, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	return deb
}

func hostArch(t *testing.T) string {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Skipf("dpkg: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func sponsorFor(slug, a string) string {
	if slug == "a" {
		return a
	}
	return "Beta Net"
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
