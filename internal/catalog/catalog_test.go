package catalog

import (
	"path"
	"slices"
	"strings"
	"testing"
)

func TestCatalogHasTheFleetsProjects(t *testing.T) {
	for _, name := range []string{"archlinux", "debian", "ubuntu", "ubuntu-releases", "epel", "epel-amd64", "fedora",
		"fedora-amd64", "almalinux", "rpmfusion", "manjaro", "kali-images", "linuxmint-images", "videolan", "gimp", "tdf",
		"opensuse", "fdroid", "raspbian", "kde"} {
		r, ok := Lookup(name)
		if !ok {
			t.Errorf("catalog lacks %s", name)
			continue
		}
		if r.Module == "" || len(r.Triggers) == 0 || r.SizeBytes <= 0 || r.Stages < OneStage || r.Description == "" ||
			!strings.HasPrefix(r.Register, "https://") {
			t.Errorf("%s: incomplete recipe %+v", name, r)
		}
		if r.Stages == TwoStage && len(r.FirstStageExclude) == 0 {
			t.Errorf("%s: two stages without index excludes", name)
		}
	}
}

func TestVariants(t *testing.T) {
	epel, _ := Lookup("epel")
	amd64, _ := Lookup("epel-amd64")
	fedora, _ := Lookup("fedora")
	if !slices.Contains(epel.Triggers, "fedora") || !slices.Contains(fedora.Triggers, "fedora") {
		t.Errorf("epel and fedora must share the fedora trigger: %v %v", epel.Triggers, fedora.Triggers)
	}
	for _, arch := range []string{"aarch64/", "ppc64le/", "s390x/"} {
		if !slices.Contains(amd64.Exclude, arch) {
			t.Errorf("epel-amd64 keeps %s", arch)
		}
	}
	arch, _ := Lookup("archlinux")
	if arch.ChangeMarker != "lastupdate" || !slices.Contains(arch.UpstreamMarkers, "lastsync") {
		t.Errorf("arch markers: %+v", arch)
	}
	deb, _ := Lookup("debian")
	if deb.TraceDir != "project/trace" || deb.Stages != TwoStage {
		t.Errorf("debian: %+v", deb)
	}
}

// TestExcludesKeepManifests: no recipe's excludes hide a file its checker
// expects.
func TestExcludesKeepManifests(t *testing.T) {
	for _, r := range All() {
		for _, m := range r.Manifests {
			for _, e := range r.Exclude {
				if ok, _ := path.Match(strings.TrimSuffix(e, "/"), path.Base(m)); ok {
					t.Errorf("%s: exclude %q hides manifest %q", r.Name, e, m)
				}
			}
		}
	}
}

func TestLookupReturnsCopies(t *testing.T) {
	r, _ := Lookup("epel")
	r.Exclude[0] = "changed"
	again, _ := Lookup("epel")
	if again.Exclude[0] == "changed" {
		t.Errorf("Lookup exposes the built-in table")
	}
}

func TestLinksNameRecipes(t *testing.T) {
	for name := range links {
		if _, ok := Lookup(name); !ok {
			t.Errorf("links has %s, which is not a recipe", name)
		}
	}
}

// The Micro Mirrors fleet's project names (host_vars hostedprojects) and
// the topic suffix its update script starts each one on
// (rsync/mirror.fcix.net/<suffix>): the catalog knows every name, and the
// fleet's topic is among its triggers.
var fcixTopics = map[string]string{
	"almalinux": "almalinux", "archlinux": "archlinux", "cvebin": "cvebin", "epel": "fedora", "epel-amd64": "fedora",
	"fdroid-repo": "fdroid", "fedora": "fedora", "fedora-amd64": "fedora", "gimp": "gimp", "kali-images": "kali-images",
	"kdeftp-stable": "kde", "linuxmint-images": "linuxmint-images", "manjaro": "manjaro", "opensuse": "opensuse",
	"raspbian": "raspbian", "rpmfusion-nonfree": "rpmfusion", "tdf": "tdf", "ubuntu": "ubuntu",
	"ubuntu-releases": "ubuntu-releases", "videolan": "videolan", "centos": "centos", "centos-altarch": "centos-altarch",
	"centos-stream": "centos-stream",
}

func TestFleetNamesAndTopics(t *testing.T) {
	for name, topic := range fcixTopics {
		r, ok := Lookup(name)
		if !ok {
			t.Errorf("the catalog does not know %s", name)
			continue
		}
		if r.Name != name {
			t.Errorf("%s looks up as %s", name, r.Name)
		}
		if !slices.Contains(r.Triggers, topic) {
			t.Errorf("%s: triggers %v lack the fleet's topic %s", name, r.Triggers, topic)
		}
		if r.Description == "" || r.SizeBytes <= 0 || !strings.HasPrefix(r.Register, "https://") {
			t.Errorf("%s: incomplete recipe %+v", name, r)
		}
	}
	if Canonical("kdeftp-stable") != "kde" || Canonical("kde") != "kde" || !slices.Equal(Aliases("fdroid"), []string{"fdroid-repo"}) {
		t.Error("aliases")
	}
}

// Every project of a layout is in the catalog, and a layout's paths are
// the shapes a node config accepts (relative, no "..").
func TestLayouts(t *testing.T) {
	if !slices.Contains(LayoutNames(), "fcix") || HasLayout("nosuch") {
		t.Fatalf("layouts %v", LayoutNames())
	}
	for _, layout := range LayoutNames() {
		for name, l := range layouts[layout] {
			if _, ok := Lookup(name); !ok {
				t.Errorf("%s: %s is not in the catalog", layout, name)
			}
			for _, p := range append([]string{l.Path, l.ModuleDir, l.UpstreamPath}, l.ExtraFiles...) {
				if strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
					t.Errorf("%s/%s: %q", layout, name, p)
				}
			}
		}
	}
	kde, ok := LayoutOf("fcix", "kdeftp-stable")
	if !ok || kde.Path != "kdeftp/stable" || kde.Module != "kdeftp" || kde.ExtraFiles[0] != "kdeftp/last-updated" {
		t.Errorf("fcix kde: %+v", kde)
	}
	if _, ok := LayoutOf("fcix", "gimp"); ok {
		t.Error("gimp has the catalog's layout in fcix")
	}
}
