package node_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// TestDeepLayout: projects laid out as an existing fleet serves them (the
// Micro Mirrors' templates): trees below a first directory (/fdroid/repo/,
// /kdeftp/stable/), rsync modules named apart from their directories
// (fedora-epel → epel/), an upstream path of another name
// (fedora-enchilada0 → fedora/), and KDE's last-updated pulled beside its
// tree and read at the upstream's root as its change marker.
func TestDeepLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	up := t.TempDir()
	files := map[string]string{
		"kdeftp/stable/plasma/6.0/plasma.tar.xz":  "plasma",
		"kdeftp/last-updated":                     "1700000000\n",
		"kdeftp/unstable/not-synced":              "x",
		"fdroid/repo/index-v2.json":               "{}",
		"fdroid/archive/not-synced.apk":           "x",
		"fedora-enchilada0/linux/releases/41/ISO": "iso",
		"fedora-epel/9/Everything/x86_64/a.rpm":   "rpm",
	}
	for p, body := range files {
		testenv.WriteFile(t, filepath.Join(up, p), []byte(body), syncedAt)
	}
	modules := map[string]string{}
	for _, m := range []string{"kdeftp", "fdroid", "fedora-enchilada0", "fedora-epel"} {
		modules[m] = filepath.Join(up, m)
	}
	upstream := testenv.StartUpstream(t, modules)
	cfg := testenv.NodeConfig(t)
	cfg.Upstream = upstream.Addr()
	day := yamlconf.Dur(24 * time.Hour)
	cfg.Projects = []nodeconfig.Project{
		{Name: "kde", Path: "kdeftp/stable", ExtraFiles: []string{"kdeftp/last-updated"}, Schedule: day},
		{Name: "fdroid", Path: "fdroid/repo", Schedule: day},
		{Name: "fedora", UpstreamPath: "fedora-enchilada0", Module: "fedora-enchilada", Schedule: day},
		{Name: "epel", Module: "fedora-epel", Schedule: day},
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	n := testenv.StartNode(t, cfg)
	synced := func() bool {
		for _, s := range n.Engine().Status() {
			if s.LastSuccess.IsZero() {
				return false
			}
		}
		return true
	}
	waitFor(t, "every project synced", synced)

	base := testenv.URL("http", n.HTTPAddrs()[0])
	for path, want := range map[string]string{
		"/kdeftp/stable/plasma/6.0/plasma.tar.xz": "200",
		"/kdeftp/last-updated":                    "200",
		"/kdeftp/unstable/not-synced":             "404",
		"/kdeftp/":                                "200",
		"/fdroid/repo/index-v2.json":              "200",
		"/fdroid/":                                "200",
		"/fdroid/archive/not-synced.apk":          "404",
		"/fedora/linux/releases/41/ISO":           "200",
		"/epel/9/Everything/x86_64/a.rpm":         "200",
	} {
		if got := statusOf(t, base+path); got != want {
			t.Errorf("GET %s: %s, want %s", path, got, want)
		}
	}
	root := curl(t, base+"/")
	for _, href := range []string{`href="/kdeftp/stable/"`, `href="/fdroid/repo/"`, `href="/fedora/"`, `href="/epel/"`,
		"rsync://test.mm.example.net/kdeftp/stable/", "rsync://test.mm.example.net/fedora-epel/"} {
		if !strings.Contains(root, href) {
			t.Errorf("the root page lacks %s", href)
		}
	}
	var index struct {
		Projects []struct{ Name, Path, Rsync string }
	}
	if err := json.Unmarshal([]byte(curl(t, base+"/?format=json")), &index); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range index.Projects {
		got[p.Name] = p.Path + " " + p.Rsync
	}
	for name, want := range map[string]string{"kde": "kdeftp/stable kdeftp/stable", "fdroid": "fdroid/repo fdroid/repo",
		"fedora": "fedora fedora-enchilada", "epel": "epel fedora-epel"} {
		if got[name] != want {
			t.Errorf("root JSON: %s is %q, want %q", name, got[name], want)
		}
	}

	rs := "rsync://" + n.RsyncAddrs()[0].String()
	list := func(url string) string {
		out, err := exec.Command("rsync", url).CombinedOutput()
		if err != nil {
			t.Errorf("rsync %s: %v\n%s", url, err, out)
		}
		return string(out)
	}
	mods := list(rs + "/")
	for _, m := range []string{"kdeftp", "fdroid", "fedora-enchilada", "fedora-epel"} {
		if !strings.Contains(mods, m+" ") && !strings.Contains(mods, m+"\t") {
			t.Errorf("rsync module %s not listed:\n%s", m, mods)
		}
	}
	if kde := list(rs + "/kdeftp/"); !strings.Contains(kde, "last-updated") || !strings.Contains(kde, "stable") {
		t.Errorf("the kdeftp module:\n%s", kde)
	}
	if out := list(rs + "/fedora-epel/9/Everything/x86_64/"); !strings.Contains(out, "a.rpm") {
		t.Errorf("the fedora-epel module:\n%s", out)
	}

	// KDE's marker is the upstream's kdeftp/last-updated: unchanged, the
	// next run is skipped; rewritten, the next run syncs.
	kde := func() (runs, checks uint64) {
		for _, s := range n.Engine().Status() {
			if s.Name == "kde" {
				return s.Runs, s.Checks
			}
		}
		t.Fatal("no kde status")
		return
	}
	runs0, checks0 := kde()
	n.Engine().Trigger("kde", "test")
	waitFor(t, "a skipped KDE run", func() bool { _, c := kde(); return c == checks0+1 })
	testenv.WriteFile(t, filepath.Join(up, "kdeftp/stable/plasma/6.1/plasma.tar.xz"), []byte("new"), time.Now())
	testenv.WriteFile(t, filepath.Join(up, "kdeftp/last-updated"), []byte("1700000100\n"), time.Now())
	n.Engine().Trigger("kde", "test")
	waitFor(t, "a KDE run after the marker changed", func() bool { r, _ := kde(); return r == runs0+1 })
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "kdeftp/last-updated")); err != nil || string(b) != "1700000100\n" {
		t.Errorf("the served last-updated: %q %v", b, err)
	}
	if got := statusOf(t, base+"/kdeftp/stable/plasma/6.1/plasma.tar.xz"); got != "200" {
		t.Errorf("the new KDE file: %s", got)
	}
}
