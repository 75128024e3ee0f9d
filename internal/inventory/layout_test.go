package inventory

import (
	"slices"
	"strings"
	"testing"
)

// layout: fcix puts each project where the Micro Mirrors serve it, under
// the fleet's own names; the portfolio's keys still win.
func TestFleetLayout(t *testing.T) {
	src := strings.Replace(testdata(t), "domain: mm.example.net\n", "domain: mm.example.net\nlayout: fcix\n", 1)
	src = strings.Replace(src, "projects: [archlinux, debian, videolan]", "projects: [fdroid-repo, kdeftp-stable, videolan, tdf, fedora-amd64]", 1)
	src = strings.Replace(src, "projects:\n  archlinux: {}\n", "projects:\n  archlinux: {}\n  fdroid-repo: {}\n  kdeftp-stable: {}\n  tdf: {}\n  fedora-amd64: {}\n", 1)
	f := mustLoad(t, src)
	cfg, err := f.NodeConfig(f.NodeByName("ziply.mm.example.net"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range cfg.Projects {
		got[p.Name] = strings.Join([]string{p.URLPath(), p.RsyncModule(), p.UpstreamPath, strings.Join(p.ExtraFiles, ",")}, " ")
	}
	for name, want := range map[string]string{
		"fdroid-repo":   "fdroid/repo fdroid fdroid/repo ",
		"kdeftp-stable": "kdeftp/stable kdeftp kdeftp/stable kdeftp/last-updated",
		"videolan":      "videolan-ftp videolan-ftp videolan-ftp ",
		"tdf":           "tdf tdf-pub tdf-pub ",
		"fedora-amd64":  "fedora fedora-enchilada fedora-enchilada0 ",
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	for _, p := range cfg.Projects {
		if p.Name == "fedora-amd64" && (!slices.Contains(p.Exclude, "**/Silverblue/**") || p.DeleteExcluded == nil || !*p.DeleteExcluded) {
			t.Errorf("fedora-amd64's excludes: %v %v", p.Exclude, p.DeleteExcluded)
		}
	}

	// The portfolio's keys over the layout's.
	src2 := strings.Replace(src, "  videolan: {}\n", "  videolan: {path: vlc, bwlimit: 50Mbit}\n", 1)
	f2 := mustLoad(t, src2)
	e := f2.ProjectEntry("videolan")
	if e.URLPath() != "vlc" || e.RsyncModule() != "videolan-ftp" || e.Bwlimit.BitsPerSecond() != 50e6 {
		t.Errorf("portfolio over layout: %+v", e)
	}

	if _, err := Parse("fleet.yaml", []byte(strings.Replace(src, "layout: fcix", "layout: acme", 1))); err == nil ||
		!strings.Contains(err.Error(), `fleet.yaml:3: layout: "acme" is not a known layout (fcix)`) {
		t.Errorf("unknown layout: %v", err)
	}
}
