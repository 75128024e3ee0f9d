package adopt

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"micromirror/internal/inventory"
)

const fleetDir = "testdata/fleet"

var opts = Options{Operator: "Example Micro Mirrors", Contact: "noc@mm.example.org", Now: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}

func TestReadAnsible(t *testing.T) {
	a, err := ReadAnsible(fleetDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Hosts) != 3 || a.Upstream != "mirror.example.org" || a.Broker != "mirror.example.org" || a.Bwlimit != 25<<20 {
		t.Fatalf("read %+v", a)
	}
	alpha, beta, gamma := a.Hosts[0], a.Hosts[1], a.Hosts[2]
	if alpha.Country != "US" || alpha.City != "Portland" || alpha.Region != "Oregon" || alpha.SSHPort != 2222 || !alpha.TLS {
		t.Errorf("alpha (geolocation map): %+v", alpha)
	}
	if beta.Country != "GB" || beta.City != "Canterbury" || !beta.NoDSCP || !slices.Contains(beta.Projects, "kdeftp-stable") {
		t.Errorf("beta (flat location keys, uk): %+v", beta)
	}
	if gamma.TLS || gamma.SponsorURL != "" || !slices.Equal(gamma.Unknown, []string{"ansible_user"}) {
		t.Errorf("gamma: %+v", gamma)
	}
}

// Bad input is named by file and line, all of it at once.
func TestReadAnsibleErrors(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, fleetDir, dir)
	os.WriteFile(filepath.Join(dir, "inventory.yaml"), []byte("MIRROR:\n  hosts:\n    alpha.mm.example.org:\n    beta.mm.example.org:\n"+
		"    gamma.mm.example.org:\n    delta.mm.example.org:\n"), 0o644)
	hv := filepath.Join(dir, "host_vars/beta.mm.example.org.yaml")
	b, _ := os.ReadFile(hv)
	os.WriteFile(hv, []byte(strings.Replace(string(b), "  - manjaro\n", "  - manjar0\n", 1)), 0o644)
	os.WriteFile(filepath.Join(dir, "host_vars/gamma.mm.example.org.yaml"), []byte("hostedprojects: [gimp\n"), 0o644)
	_, err := ReadAnsible(dir)
	if err == nil {
		t.Fatal("bad inventory read")
	}
	for _, want := range []string{
		"inventory.yaml:6: host delta.mm.example.org has no host_vars/delta.mm.example.org.yaml",
		`beta.mm.example.org.yaml:6: hostedprojects[3]: "manjar0" is not a project micromirror knows`,
		"gamma.mm.example.org.yaml:1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// The import reads back as an inventory, every node's config is valid,
// and fleet check names each gap by node and key without failing to load.
func TestInventory(t *testing.T) {
	a, err := ReadAnsible(fleetDir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := Inventory(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := inventory.Parse("fleet.yaml", src)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	if f.Domain != "mm.example.org" || f.Layout != "fcix" || f.Upstream.Host != "mirror.example.org" || f.MQTT.Broker != "tcp://mirror.example.org:1883" {
		t.Errorf("fleet keys: %+v", f)
	}
	for _, n := range f.Nodes {
		if _, err := f.NodeConfig(n); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		}
	}
	beta, _ := f.NodeConfig(f.NodeByName("beta.mm.example.org"))
	gamma, _ := f.NodeConfig(f.NodeByName("gamma.mm.example.org"))
	if beta.DSCP != "none" || len(gamma.Listen.HTTPS) != 0 || beta.Sync.Bwlimit.BitsPerSecond() != 25<<20*8 || beta.DataDir != "/data/mirror" {
		t.Errorf("node keys: beta dscp %q bwlimit %v data %s, gamma https %v", beta.DSCP, beta.Sync.Bwlimit, beta.DataDir, gamma.Listen.HTTPS)
	}
	if !strings.Contains(string(src), "ansible_port 2222") || !strings.Contains(string(src), "host_vars not carried over: ansible_user") {
		t.Errorf("the notes of what is not carried over:\n%s", src)
	}
	findings := f.Check(nil)
	for _, n := range f.Nodes {
		for _, rule := range []string{"asn", "building", "hardware", "addresses"} {
			found := false
			for _, x := range findings {
				found = found || x.Rule == rule && x.Node == n.Name
			}
			if !found {
				t.Errorf("fleet check does not report %s's %s gap", n.Name, rule)
			}
		}
	}
	if _, err := Inventory(a, Options{}); err == nil || !strings.Contains(err.Error(), "-operator") {
		t.Errorf("no operator: %v", err)
	}
}

// The imported fleet renders to nodes that do what the templates do:
// nothing differs. Without the fleet's layout, the moved URLs, renamed
// modules and unheard topics are each listed.
func TestCompare(t *testing.T) {
	a, err := ReadAnsible(fleetDir)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := ReadTemplates(fleetDir)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := Inventory(a, opts)
	f, _ := inventory.Parse("fleet.yaml", src)
	diffs, compared, err := Compare(a, tm, f)
	if err != nil {
		t.Fatal(err)
	}
	if compared != 20 || len(diffs) != 0 {
		t.Errorf("%d compared, differences:\n%s", compared, join(diffs))
	}

	plain, _ := inventory.Parse("fleet.yaml", []byte(strings.Replace(string(src), "layout: fcix\n", "", 1)))
	diffs, _, err = Compare(a, tm, plain)
	if err != nil {
		t.Fatal(err)
	}
	got := join(diffs)
	for _, want := range []string{
		"beta.mm.example.org kdeftp-stable: url: Ansible /kdeftp/stable/, micromirror /kdeftp-stable/",
		"beta.mm.example.org kdeftp-stable: extra file: Ansible kdeftp/last-updated, micromirror none",
		"alpha.mm.example.org fdroid-repo: url: Ansible /fdroid/repo/, micromirror /fdroid-repo/",
		"alpha.mm.example.org fedora: source: Ansible rsync://mirror.example.org/fedora-enchilada0/, micromirror rsync://mirror.example.org/fedora-enchilada/",
		"gamma.mm.example.org tdf: rsync module: Ansible tdf-pub → tdf/, micromirror tdf → tdf/",
		"beta.mm.example.org manjaro: bwlimit: Ansible 83.9 Mbit/s, micromirror 209.7 Mbit/s",
		"alpha.mm.example.org epel: exclude: Ansible **/debug/** **/playground/** **/s390x/** **/source/**, micromirror SRPMS/ debug/ playground/ s390x/ source/",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("differences lack %q:\n%s", want, got)
		}
	}

	// A template that changes: a renamed module is found.
	dir := t.TempDir()
	copyDir(t, fleetDir, dir)
	rc := filepath.Join(dir, "templates/rsyncd.conf")
	b, _ := os.ReadFile(rc)
	os.WriteFile(rc, []byte(strings.Replace(string(b), "[ gimp ]", "[ gimp-pub ]", 1)), 0o644)
	tm2, _ := ReadTemplates(dir)
	diffs, _, _ = Compare(a, tm2, f)
	if len(diffs) != 1 || diffs[0].String() != "alpha.mm.example.org gimp: rsync module: Ansible gimp-pub → gimp/, micromirror gimp → gimp/" {
		t.Errorf("after a renamed module:\n%s", join(diffs))
	}
}

func TestJinja(t *testing.T) {
	src := "a\n{% if \"x\" in hostedprojects %}\nx\n{% if \"y\" not in hostedprojects %}\nnot y\n{% else %}\ny\n{% endif %}\n{% endif %}\n{{ inventory_hostname }}\n"
	for hosted, want := range map[string]string{"x": "a\nx\nnot y\nh\n", "x,y": "a\nx\ny\nh\n", "": "a\nh\n"} {
		got, err := jinja(src, "h", strings.Split(hosted, ","))
		if err != nil || got != want {
			t.Errorf("%s: %q %v", hosted, got, err)
		}
	}
	for _, bad := range []string{"{% for x in y %}", "{% endif %}", "{% if \"x\" in hostedprojects %}"} {
		if _, err := jinja(bad, "h", nil); err == nil {
			t.Errorf("%q rendered", bad)
		}
	}
}

func TestRsyncRate(t *testing.T) {
	for s, want := range map[string]int64{"25M": 25 << 20, "10M": 10 << 20, "800": 800 << 10, "25MB": 25e6, "1.5G": 3 << 29, "x": 0} {
		if got := rsyncRate(s); got != want {
			t.Errorf("%s: %d, want %d", s, got, want)
		}
	}
}

func join(ds []Difference) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, _ := os.ReadFile(p)
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
}
