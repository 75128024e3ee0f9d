package render

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"micromirror/internal/announce"
	"micromirror/internal/inventory"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/watchtower"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func fixture(t *testing.T) (*inventory.Fleet, *inventory.Secrets) {
	t.Helper()
	f, err := inventory.Load("../inventory/testdata/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &inventory.Secrets{MQTTPassword: "mqtt-secret", TelemetryTokens: map[string]string{}}
	for _, n := range f.Live() {
		s.TelemetryTokens[n.Name] = "token-of-" + n.Name
	}
	return f, s
}

// TestGolden: the rendered files are exactly the reviewed ones in
// testdata/golden (go test ./internal/render -update rewrites them).
func TestGolden(t *testing.T) {
	f, s := fixture(t)
	files, err := Build(f, s)
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/golden"
	if *update {
		os.RemoveAll(golden)
		for rel, fl := range files {
			p := filepath.Join(golden, filepath.FromSlash(rel))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, fl.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want []string
	filepath.WalkDir(golden, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(golden, p)
			want = append(want, filepath.ToSlash(rel))
		}
		return nil
	})
	var got []string
	for rel := range files {
		got = append(got, rel)
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for rel, fl := range files {
		b, err := os.ReadFile(filepath.Join(golden, filepath.FromSlash(rel)))
		if err != nil {
			continue
		}
		if string(b) != string(fl.data) {
			t.Errorf("%s differs from the golden file:\n%s", rel, fl.data)
		}
	}
}

// TestWriteReadsBack: a written render loads with each program's own
// loader, secrets are private, and a second render reports what changed.
func TestWriteReadsBack(t *testing.T) {
	f, s := fixture(t)
	out := filepath.Join(t.TempDir(), "out")
	res, err := Write(f, s, out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Nodes, " "); got != "ziply.mm.example.net sonic.mm.example.net fiberby.mm.example.net" {
		t.Errorf("nodes %s", got)
	}
	if got := strings.Join(res.Modules, " "); got != "archlinux debian fedora-epel videolan-ftp" {
		t.Errorf("modules %s", got)
	}
	if len(res.Added) != 12 || len(res.Changed)+len(res.Removed) != 0 {
		t.Errorf("first render: added %v changed %v removed %v", res.Added, res.Changed, res.Removed)
	}
	cfg, err := nodeconfig.Load(filepath.Join(out, "nodes/sonic.mm.example.net/node.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(cfg.Telemetry.TokenFile)
	if err != nil || strings.TrimSpace(string(tok)) != "token-of-sonic.mm.example.net" {
		t.Errorf("token file %s: %q %v", cfg.Telemetry.TokenFile, tok, err)
	}
	for _, p := range []string{cfg.Telemetry.TokenFile, cfg.MQTT.PasswordFile, filepath.Dir(cfg.Telemetry.TokenFile)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v %v", p, fi.Mode(), err)
		}
	}
	// The watchtower and the announcer take the lists through their configs.
	wcfg := filepath.Join(t.TempDir(), "watchtower.yaml")
	os.WriteFile(wcfg, []byte("db: wt.db\nnodes_file: "+filepath.Join(out, WatchtowerFile)+"\n"), 0o644)
	wt, err := watchtower.LoadConfig(wcfg)
	if err != nil || len(wt.Nodes) != 3 || wt.Nodes[1].TokenSHA256 != watchtower.HashToken("token-of-sonic.mm.example.net") {
		t.Errorf("watchtower config: %+v %v", wt.Nodes, err)
	}
	acfg := filepath.Join(t.TempDir(), "announce.yaml")
	os.WriteFile(acfg, []byte("broker: embedded\nupstream: mirror.example.net\nmodules_file: "+filepath.Join(out, AnnounceFile)+"\n"), 0o644)
	ann, err := announce.Load(acfg)
	if err != nil || len(ann.Modules) != 4 || ann.Modules[1].Path != "/srv/mirror/debian" || ann.Modules[1].Marker != "project/trace/master" ||
		ann.Modules[2].Path != "/srv/fedora/epel" {
		t.Errorf("announce config: %+v %v", ann.Modules, err)
	}

	// Retire sonic, change ziply's projects: the second render says so.
	src, _ := os.ReadFile("../inventory/testdata/fleet.yaml")
	edited := strings.Replace(string(src), "    projects: auto\n    placement: [debian, epel-amd64]", "    status: retired\n    projects: auto", 1)
	edited = strings.Replace(edited, "projects: [archlinux, debian, videolan]", "projects: [archlinux, debian, gimp]", 1)
	f2, err := inventory.Parse("fleet.yaml", []byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	res, err = Write(f2, s, out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Changed, " "); got != "announce/modules.yaml nodes/ziply.mm.example.net/node.yaml watchtower/nodes.yaml" {
		t.Errorf("changed: %s", got)
	}
	if len(res.Removed) != 3 || !strings.HasPrefix(res.Removed[0], "nodes/sonic.mm.example.net/") {
		t.Errorf("removed: %v", res.Removed)
	}
	if _, err := os.Stat(filepath.Join(out, "nodes/sonic.mm.example.net")); !os.IsNotExist(err) {
		t.Errorf("retired node's directory is still there: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".out.render-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

func TestWriteRefusesForeignDirectory(t *testing.T) {
	f, s := fixture(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("keep me"), 0o644)
	if _, err := Write(f, s, dir); err == nil || !strings.Contains(err.Error(), "refusing to replace") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "precious.txt")); string(b) != "keep me" {
		t.Error("the directory was touched")
	}
}

func TestBuildNeedsSecrets(t *testing.T) {
	f, s := fixture(t)
	delete(s.TelemetryTokens, "sonic.mm.example.net")
	s.MQTTPassword = ""
	_, err := Build(f, s)
	if err == nil || !strings.Contains(err.Error(), "mqtt_password, telemetry_tokens.sonic.mm.example.net") ||
		!strings.Contains(err.Error(), "micromirror fleet secrets") {
		t.Errorf("err = %v", err)
	}
}

// Only secrets/ is closed: a node's directory and the lists stay open to
// the programs that read them as their own users, whichever file the
// render happens to write first.
func TestWriteOpensAllButSecrets(t *testing.T) {
	f, s := fixture(t)
	for i := 0; i < 20; i++ {
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Write(f, s, out); err != nil {
			t.Fatal(err)
		}
		filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			fi, _ := d.Info()
			want := fs.FileMode(0o755)
			if d.Name() == "secrets" {
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				t.Fatalf("render %d: %s is %v, want %v", i, p, fi.Mode().Perm(), want)
			}
			return nil
		})
	}
}

// The announcer's list under a fleet layout: the modules the nodes pull
// (fedora-enchilada0, not the catalog's fedora-enchilada), and KDE's
// marker at its module's root.
func TestModulesUnderALayout(t *testing.T) {
	src, _ := os.ReadFile("../inventory/testdata/fleet.yaml")
	s := strings.Replace(string(src), "domain: mm.example.net\n", "domain: mm.example.net\nlayout: fcix\n", 1)
	s = strings.Replace(s, "projects:\n  archlinux: {}\n", "projects:\n  archlinux: {}\n  kdeftp-stable: {}\n  fedora-amd64: {}\n", 1)
	s = strings.Replace(s, "projects: [archlinux, debian, videolan]", "projects: [kdeftp-stable, fedora-amd64, videolan]", 1)
	f, err := inventory.Parse("fleet.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range modules(f) {
		got[m.Name] = m.Path + " " + m.Marker
	}
	for name, want := range map[string]string{"kdeftp": "/srv/mirror/kdeftp last-updated", "fedora-enchilada0": "/srv/mirror/fedora-enchilada0 ",
		"videolan-ftp": "/srv/mirror/videolan-ftp "} {
		if got[name] != want {
			t.Errorf("module %s: %q, want %q (all: %v)", name, got[name], want, got)
		}
	}
}
