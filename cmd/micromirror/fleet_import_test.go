package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"micromirror/internal/announcement"
	"micromirror/internal/mqtt"
	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
)

// fleetFiles are a file of each project's tree on the upstream, laid out
// as the Micro Mirrors' upstream keeps them, with the URL a node of that
// fleet serves it at.
var fleetFiles = map[string]struct{ upstream, url string }{
	"almalinux":         {"almalinux/9/BaseOS/repomd.xml", "/almalinux/9/BaseOS/repomd.xml"},
	"archlinux":         {"archlinux/core/os/x86_64/core.db", "/archlinux/core/os/x86_64/core.db"},
	"cvebin":            {"cvebin/nvd.json.xz", "/cvebin/nvd.json.xz"},
	"epel":              {"fedora-epel/9/Everything/x86_64/a.rpm", "/epel/9/Everything/x86_64/a.rpm"},
	"epel-amd64":        {"fedora-epel/9/Everything/x86_64/a.rpm", "/epel/9/Everything/x86_64/a.rpm"},
	"fdroid-repo":       {"fdroid/repo/index-v2.json", "/fdroid/repo/index-v2.json"},
	"fedora":            {"fedora-enchilada0/linux/releases/41/a.iso", "/fedora/linux/releases/41/a.iso"},
	"fedora-amd64":      {"fedora-enchilada0/linux/releases/41/a.iso", "/fedora/linux/releases/41/a.iso"},
	"gimp":              {"gimp/gimp/v3.0/gimp-3.0.tar.xz", "/gimp/gimp/v3.0/gimp-3.0.tar.xz"},
	"kali-images":       {"kali-images/current/kali.iso", "/kali-images/current/kali.iso"},
	"kdeftp-stable":     {"kdeftp/stable/plasma/6.0/plasma.tar.xz", "/kdeftp/stable/plasma/6.0/plasma.tar.xz"},
	"linuxmint-images":  {"linuxmint-images/stable/22/mint.iso", "/linuxmint-images/stable/22/mint.iso"},
	"manjaro":           {"manjaro/stable/core/x86_64/core.db", "/manjaro/stable/core/x86_64/core.db"},
	"opensuse":          {"opensuse/tumbleweed/repo/oss/repomd.xml", "/opensuse/tumbleweed/repo/oss/repomd.xml"},
	"raspbian":          {"raspbian/dists/bookworm/Release", "/raspbian/dists/bookworm/Release"},
	"rpmfusion-nonfree": {"rpmfusion/nonfree/fedora/releases/41/a.rpm", "/rpmfusion/nonfree/fedora/releases/41/a.rpm"},
	"tdf":               {"tdf-pub/libreoffice/stable/24.8/a.msi", "/tdf/libreoffice/stable/24.8/a.msi"},
	"ubuntu":            {"ubuntu/dists/noble/Release", "/ubuntu/dists/noble/Release"},
	"ubuntu-releases":   {"ubuntu-releases/noble/ubuntu.iso", "/ubuntu-releases/noble/ubuntu.iso"},
	"videolan":          {"videolan-ftp/vlc/3.0.21/vlc.tar.xz", "/videolan-ftp/vlc/3.0.21/vlc.tar.xz"},
}

// fleetModules are the rsync modules each node of the test fleet lists.
var fleetModules = map[string][]string{
	"alpha.mm.example.org": {"almalinux", "archlinux", "cvebin", "fedora-epel", "fdroid", "fedora-enchilada", "gimp"},
	"beta.mm.example.org":  {"kali-images", "kdeftp", "linuxmint-images", "manjaro", "opensuse", "raspbian", "rpmfusion"},
	"gamma.mm.example.org": {"fedora-epel", "fedora-enchilada", "tdf-pub", "ubuntu", "ubuntu-releases", "videolan-ftp"},
}

// TestFleetImportTakesOver: a fleet deployed with Ansible in the Micro
// Mirrors' layout is imported, checked (its gaps named), compared with its
// templates (nothing differs), rendered, and its three nodes booted from
// the rendered configs serve every project at the fleet's URL, list the
// fleet's rsync modules, and sync on the fleet's topics from a real rsync
// daemon laid out like the fleet's upstream.
func TestFleetImportTakesOver(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	testenv.RequireBinary(t, "rsync")
	upDir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for _, f := range fleetFiles {
		testenv.WriteFile(t, filepath.Join(upDir, f.upstream), []byte(f.upstream), old)
	}
	for _, f := range []string{"archlinux/lastupdate", "archlinux/lastsync", "kdeftp/last-updated"} {
		testenv.WriteFile(t, filepath.Join(upDir, f), []byte("1700000000\n"), old)
	}
	modules := map[string]string{}
	entries, _ := os.ReadDir(upDir)
	for _, e := range entries {
		modules[e.Name()] = filepath.Join(upDir, e.Name())
	}
	up := testenv.StartUpstream(t, modules)
	broker, err := mqtt.StartBroker("127.0.0.1:0", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokerHost, brokerPort, _ := strings.Cut(broker.Addr(), ":")

	// The fleet's Ansible inventory, pointed at the test's upstream and
	// broker as the real one names mirror.fcix.net.
	ansible := t.TempDir()
	if err := exec.Command("cp", "-r", "../../internal/adopt/testdata/fleet/.", ansible).Run(); err != nil {
		t.Fatal(err)
	}
	edit := func(file, re, repl string) {
		p := filepath.Join(ansible, file)
		b, _ := os.ReadFile(p)
		os.WriteFile(p, regexp.MustCompile(re).ReplaceAll(b, []byte(repl)), 0o644)
	}
	edit("templates/update-mirror.sh", `(?m)^UPSTREAM=.*$`, `UPSTREAM="`+up.Addr()+`"`)
	edit("files/systemd.mqtt-exec.service", `-h mirror.example.org`, "-h "+brokerHost+" -p "+brokerPort)

	dir := t.TempDir()
	inv := filepath.Join(dir, "fleet.yaml")
	code, out, stderr := runCLI(t, "fleet", "import", "-ansible", ansible, "-operator", "Example Micro Mirrors",
		"-contact", "noc@mm.example.org", "-o", inv)
	if code != 0 || !strings.Contains(out, "3 nodes, 20 projects") {
		t.Fatalf("import: %d %q %q", code, out, stderr)
	}
	if code, _, _ := runCLI(t, "fleet", "import", "-ansible", ansible, "-operator", "x", "-contact", "noc@mm.example.org", "-o", inv); code != 1 {
		t.Errorf("import over an existing file: %d", code)
	}
	code, out, _ = runCLI(t, "fleet", "check", "-inventory", inv, "-offline")
	for _, n := range []string{"alpha", "beta", "gamma"} {
		for _, rule := range []string{"[asn]", "[building]", "[hardware]", "[addresses]"} {
			if !regexp.MustCompile(`fleet.yaml:\d+: error \` + rule + ` ` + n + `\.mm\.example\.org: `).MatchString(out) {
				t.Errorf("fleet check does not name %s's %s gap:\n%s", n, rule, out)
			}
		}
	}
	if code != 1 {
		t.Errorf("fleet check of an inventory with gaps: %d", code)
	}
	if code, out, stderr := runCLI(t, "fleet", "compare", "-ansible", ansible, "-inventory", inv); code != 0 ||
		!strings.Contains(out, "3 nodes, 20 hosted projects compared: 0 differences") {
		t.Fatalf("compare: %d\n%s\n%s", code, out, stderr)
	}
	secrets := filepath.Join(dir, "secrets.yaml")
	if code, _, stderr := runCLI(t, "fleet", "secrets", "-inventory", inv, "-secrets", secrets); code != 0 {
		t.Fatalf("secrets: %s", stderr)
	}
	rendered := filepath.Join(dir, "rendered")
	if code, _, stderr := runCLI(t, "fleet", "render", "-inventory", inv, "-secrets", secrets, "-o", rendered); code != 0 {
		t.Fatalf("render: %s", stderr)
	}

	// Boot the nodes from their rendered configs, on the test's ports and
	// directories.
	nodes := map[string]*node.Node{}
	for name := range fleetModules {
		cfg, err := nodeconfig.Load(filepath.Join(rendered, "nodes", name, "node.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MQTT.Broker != "tcp://"+broker.Addr() || cfg.Upstream != up.Addr() {
			t.Errorf("%s: broker %s upstream %s", name, cfg.MQTT.Broker, cfg.Upstream)
		}
		home := testenv.PublicTempDir(t)
		cfg.DataDir, cfg.StateDir, cfg.AccessLog = filepath.Join(home, "data"), filepath.Join(home, "state"), ""
		cfg.Listen = nodeconfig.Listen{HTTP: []string{"127.0.0.1:0"}, Rsync: []string{"127.0.0.1:0"}}
		cfg.TLS, cfg.User, cfg.Limits.Blocklist = nodeconfig.TLS{}, "nobody", ""
		cfg.Limits.RateLimit.PerSecond = 0
		n := node.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err := n.Open(context.Background()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer n.Close(context.Background())
		nodes[name] = n
	}
	synced := func(n *node.Node, project string, after time.Time) bool {
		for _, s := range n.Engine().Status() {
			if (project == "" || s.Name == project) && !s.LastSuccess.After(after) {
				return false
			}
		}
		return true
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for name, n := range nodes {
		waitUntil(name+" synced every project", func() bool { return synced(n, "", time.Time{}) })
	}

	for name, n := range nodes {
		base := testenv.URL("http", n.HTTPAddrs()[0])
		for _, s := range n.Engine().Status() {
			f := fleetFiles[s.Name]
			if body, err := testenv.Curl(t, "-f", base+f.url); err != nil || body != f.upstream {
				t.Errorf("%s %s: GET %s: %q %v", name, s.Name, f.url, body, err)
			}
		}
		list, err := exec.Command("rsync", "rsync://"+n.RsyncAddrs()[0].String()+"/").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: rsync module list: %v\n%s", name, err, list)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
			got = append(got, strings.Fields(line)[0])
		}
		if want := strings.Join(slices.Sorted(slices.Values(fleetModules[name])), " "); strings.Join(slices.Sorted(slices.Values(got)), " ") != want {
			t.Errorf("%s lists rsync modules %v, want %s", name, got, want)
		}
	}

	// The fleet's topics start the syncs: rsync/<upstream>/kde, .../tdf,
	// .../videolan, .../fedora, .../fdroid.
	pub, err := mqtt.NewPublisher(mqtt.ClientConfig{Broker: "tcp://" + broker.Addr(), ClientID: "test-upstream"}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for _, c := range []struct{ topic, project, node, file, url string }{
		{"kde", "kdeftp-stable", "beta.mm.example.org", "kdeftp/stable/plasma/6.1/new.tar.xz", "/kdeftp/stable/plasma/6.1/new.tar.xz"},
		{"tdf", "tdf", "gamma.mm.example.org", "tdf-pub/libreoffice/stable/25.2/new.msi", "/tdf/libreoffice/stable/25.2/new.msi"},
		{"videolan", "videolan", "gamma.mm.example.org", "videolan-ftp/vlc/3.0.22/new.tar.xz", "/videolan-ftp/vlc/3.0.22/new.tar.xz"},
		{"fedora", "fedora", "alpha.mm.example.org", "fedora-enchilada0/linux/releases/42/new.iso", "/fedora/linux/releases/42/new.iso"},
		{"fdroid", "fdroid-repo", "alpha.mm.example.org", "fdroid/repo/new.apk", "/fdroid/repo/new.apk"},
	} {
		testenv.WriteFile(t, filepath.Join(upDir, c.file), []byte("new"), time.Now())
		if c.topic == "kde" {
			testenv.WriteFile(t, filepath.Join(upDir, "kdeftp/last-updated"), []byte("1700000100\n"), time.Now())
		}
		before := time.Now()
		if err := pub.Announce(announcement.Announcement{Module: c.topic}); err != nil {
			t.Fatal(err)
		}
		n := nodes[c.node]
		waitUntil(fmt.Sprintf("%s synced on rsync/127.0.0.1/%s", c.project, c.topic), func() bool { return synced(n, c.project, before) })
		if body, err := testenv.Curl(t, "-f", testenv.URL("http", n.HTTPAddrs()[0])+c.url); err != nil || body != "new" {
			t.Errorf("%s after the %s announcement: %q %v", c.url, c.topic, body, err)
		}
	}
}

// Bad input: the problem by file and line, and no file written.
func TestFleetImportBadInput(t *testing.T) {
	ansible := t.TempDir()
	if err := exec.Command("cp", "-r", "../../internal/adopt/testdata/fleet/.", ansible).Run(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(ansible, "host_vars/gamma.mm.example.org.yaml"))
	out := filepath.Join(t.TempDir(), "fleet.yaml")
	code, _, stderr := runCLI(t, "fleet", "import", "-ansible", ansible, "-operator", "x", "-contact", "noc@mm.example.org", "-o", out)
	if code != 1 || !regexp.MustCompile(`inventory.yaml:9: host gamma.mm.example.org has no host_vars/gamma.mm.example.org.yaml`).MatchString(stderr) {
		t.Errorf("a host without host_vars: %d %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a partial inventory was written")
	}
	if code, _, stderr := runCLI(t, "fleet", "import", "-ansible", ansible, "-o", out); code != 2 || !strings.Contains(stderr, "give -operator NAME and -contact ADDRESS") {
		t.Errorf("without an operator: %d %q", code, stderr)
	}
}
