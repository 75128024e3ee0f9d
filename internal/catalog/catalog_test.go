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
