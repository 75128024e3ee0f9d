// Package catalog holds the built-in recipes of the projects a fleet hosts:
// where each project comes from upstream, which MQTT topics announce its
// changes, what to leave out, how to sync it safely and which freshness
// markers its mirror checker reads.
package catalog

import (
	"slices"
	"sort"
)

// Stages says how a project is synced.
type Stages int

const (
	// OneStage syncs everything in one rsync run.
	OneStage Stages = 1
	// TwoStage syncs packages first without deleting, then the indices and
	// the deletions, so no index ever names a file that is not there yet
	// (Debian ftpsync style).
	TwoStage Stages = 2
)

// Recipe is how a fleet mirrors one project. Node config overrides fields.
type Recipe struct {
	Name        string
	Description string
	// Module is the upstream rsync module; Path a sub-path inside it.
	Module string
	Path   string
	// Triggers are upstream module names whose MQTT topic
	// rsync/<upstream-host>/<trigger> starts a sync of this project.
	Triggers []string
	Exclude  []string
	// DeleteExcluded also removes files that excludes now hide.
	DeleteExcluded bool
	Stages         Stages
	// FirstStageExclude holds the index files held back in stage one.
	FirstStageExclude []string
	// ChangeMarker is a file the upstream rewrites on every change; an
	// unchanged marker lets the node skip a full run.
	ChangeMarker string
	// UpstreamMarkers are pulled on every run, even a skipped one, and never
	// written by the node (Arch lastsync).
	UpstreamMarkers []string
	// TraceDir gets a file named after the node after each success
	// (Debian/Ubuntu project/trace/<node-name>); empty for none.
	TraceDir string
	// Manifests are files listing paths the project's checker probes; they
	// must never be excluded.
	Manifests []string
	// FileList is the quick-fedora-mirror file list the upstream keeps at
	// the top of the tree (fullfiletimelist-fedora): where no change
	// journal is published, runs transfer only what changed between it and
	// the list of the last success.
	FileList string
	// BwlimitBits overrides the fleet's default pacing when not zero.
	BwlimitBits int64
	// SizeBytes is a typical size, for placement and initial-sync ETA.
	SizeBytes int64
	// Checker names the distro tool that verifies the mirror.
	Checker string
	// Register is the project's page on how to register a mirror;
	// MirrorList its public list of mirrors (what `fleet registrations
	// -lists` compares the inventory with). Links as of 2026; the
	// inventory overrides them.
	Register   string
	MirrorList string
}

// links are each project's registration procedure and public mirror list.
var links = map[string][2]string{
	"almalinux":        {"https://wiki.almalinux.org/Mirrors.html", "https://mirrors.almalinux.org/"},
	"archlinux":        {"https://wiki.archlinux.org/title/DeveloperWiki:NewMirrors", "https://archlinux.org/mirrors/status/json/"},
	"debian":           {"https://www.debian.org/mirror/submit", "https://www.debian.org/mirror/list-full"},
	"ubuntu":           {"https://wiki.ubuntu.com/Mirrors", "https://launchpad.net/ubuntu/+archivemirrors"},
	"ubuntu-releases":  {"https://wiki.ubuntu.com/Mirrors", "https://launchpad.net/ubuntu/+cdmirrors"},
	"epel":             {"https://docs.fedoraproject.org/en-US/infra/mirrors/", "https://mirrormanager.fedoraproject.org/mirrors/EPEL"},
	"epel-amd64":       {"https://docs.fedoraproject.org/en-US/infra/mirrors/", "https://mirrormanager.fedoraproject.org/mirrors/EPEL"},
	"fedora":           {"https://docs.fedoraproject.org/en-US/infra/mirrors/", "https://mirrormanager.fedoraproject.org/mirrors/Fedora"},
	"fedora-amd64":     {"https://docs.fedoraproject.org/en-US/infra/mirrors/", "https://mirrormanager.fedoraproject.org/mirrors/Fedora"},
	"rpmfusion":        {"https://rpmfusion.org/Mirrors", "https://mirrors.rpmfusion.org/mm/publiclist/"},
	"manjaro":          {"https://wiki.manjaro.org/index.php/Manjaro_Mirrors", "https://repo.manjaro.org/"},
	"kali-images":      {"https://www.kali.org/docs/community/setting-up-a-kali-linux-mirror/", "https://cdimage.kali.org/README?mirrorlist"},
	"linuxmint-images": {"https://linuxmint.com/mirrors.php", "https://linuxmint.com/mirrors.php"},
	"videolan":         {"https://wiki.videolan.org/Mirrors/", "https://www.videolan.org/videolan/mirrors.html"},
	"gimp":             {"https://developer.gimp.org/core/maintainer/mirrors/", "https://www.gimp.org/downloads/"},
	"tdf":              {"https://wiki.documentfoundation.org/Mirrors", "https://download.documentfoundation.org/mirmon/allmirrors.html"},
	"opensuse":         {"https://en.opensuse.org/openSUSE:Mirror_howto", "https://mirrors.opensuse.org/"},
	"fdroid":           {"https://f-droid.org/docs/Running_a_Mirror/", ""},
	"raspbian":         {"https://www.raspbian.org/RaspbianMirrors", "https://www.raspbian.org/RaspbianMirrors"},
	"kde":              {"https://kde.org/mirrors/ftp_howto.php", "https://download.kde.org/extra/download-mirrors.html"},
	"cvebin":           {"https://github.com/intel/cve-bin-tool", ""},
	"centos":           {"https://wiki.centos.org/HowTos(2f)CreatePublicMirrors.html", "https://www.centos.org/download/mirrors/"},
	"centos-altarch":   {"https://wiki.centos.org/HowTos(2f)CreatePublicMirrors.html", "https://www.centos.org/download/mirrors/"},
	"centos-stream":    {"https://docs.fedoraproject.org/en-US/infra/mirrors/", "https://mirrormanager.fedoraproject.org/mirrors/CentOS"},
}

const gb = int64(1) << 30

var aptIndices = []string{
	"Packages*", "Sources*", "Release*", "InRelease", "i18n/*", "dep11/*",
	"Contents*", "installer-*/current", "ls-lR*", "cnf/*",
}

var recipes = []Recipe{
	{Name: "almalinux", Description: "AlmaLinux OS", Module: "almalinux", SizeBytes: 900 * gb, Checker: "mirrors.almalinux.org"},
	{Name: "archlinux", Description: "Arch Linux", Module: "archlinux", BwlimitBits: 80e6,
		ChangeMarker: "lastupdate", UpstreamMarkers: []string{"lastsync"}, SizeBytes: 120 * gb, Checker: "archweb"},
	{Name: "debian", Description: "Debian", Module: "debian", Stages: TwoStage, FirstStageExclude: aptIndices,
		Exclude:      []string{"source/", "*.dsc", "*.orig.tar.*", "*.debian.tar.*", "*-dbgsym_*"},
		ChangeMarker: "project/trace/master", TraceDir: "project/trace", SizeBytes: 400 * gb, Checker: "mirror-status"},
	{Name: "ubuntu", Description: "Ubuntu", Module: "ubuntu", Stages: TwoStage, FirstStageExclude: aptIndices,
		ChangeMarker: "project/trace/master", TraceDir: "project/trace", SizeBytes: 350 * gb, Checker: "launchpad"},
	{Name: "ubuntu-releases", Description: "Ubuntu release images", Module: "ubuntu-releases",
		Manifests: []string{"*/*.manifest", ".manifest"}, TraceDir: ".trace", SizeBytes: 60 * gb, Checker: "launchpad"},
	{Name: "epel", Description: "Extra Packages for Enterprise Linux", Module: "fedora-epel", Triggers: []string{"fedora-epel", "fedora"},
		Exclude: []string{"source/", "SRPMS/", "s390x/", "playground/", "debug/"}, DeleteExcluded: true,
		Manifests: []string{"fullfiletimelist-epel"}, FileList: "fullfiletimelist-epel", SizeBytes: 300 * gb, Checker: "mirrormanager"},
	{Name: "epel-amd64", Description: "EPEL, x86_64 only", Module: "fedora-epel", Triggers: []string{"fedora-epel", "fedora"},
		Exclude:        []string{"source/", "SRPMS/", "s390x/", "playground/", "debug/", "armhfp/", "aarch64/", "ppc64/", "ppc64le/", "testing/", "next/"},
		DeleteExcluded: true, Manifests: []string{"fullfiletimelist-epel"}, FileList: "fullfiletimelist-epel", SizeBytes: 90 * gb, Checker: "mirrormanager"},
	{Name: "fedora", Description: "Fedora", Module: "fedora-enchilada", Triggers: []string{"fedora-enchilada", "fedora"},
		Exclude: []string{"source/", "SRPMS/", "debug/"}, DeleteExcluded: true,
		Manifests: []string{"fullfiletimelist-fedora"}, FileList: "fullfiletimelist-fedora", SizeBytes: 1500 * gb, Checker: "mirrormanager"},
	{Name: "fedora-amd64", Description: "Fedora, x86_64 only", Module: "fedora-enchilada", Triggers: []string{"fedora-enchilada", "fedora"},
		Exclude:        []string{"source/", "SRPMS/", "debug/", "armhfp/", "aarch64/", "test/", "testing/", "Spins/", "Kinoite/", "Sericea/", "Silverblue/"},
		DeleteExcluded: true, Manifests: []string{"fullfiletimelist-fedora"}, FileList: "fullfiletimelist-fedora", SizeBytes: 400 * gb, Checker: "mirrormanager"},
	{Name: "rpmfusion", Description: "RPM Fusion (nonfree)", Module: "rpmfusion", Path: "nonfree/", SizeBytes: 150 * gb, Checker: "mirrormanager"},
	{Name: "manjaro", Description: "Manjaro", Module: "manjaro", SizeBytes: 150 * gb, Checker: "manjaro-status"},
	{Name: "kali-images", Description: "Kali Linux images", Module: "kali-images", SizeBytes: 100 * gb, Checker: "mirrorbits"},
	{Name: "linuxmint-images", Description: "Linux Mint images", Module: "linuxmint-images", SizeBytes: 150 * gb, Checker: "linuxmint"},
	{Name: "videolan", Description: "VideoLAN", Module: "videolan-ftp", Triggers: []string{"videolan-ftp", "videolan"},
		SizeBytes: 200 * gb, Checker: "mirrorbits"},
	{Name: "gimp", Description: "GIMP", Module: "gimp", SizeBytes: 50 * gb, Checker: "mirrorbits"},
	{Name: "tdf", Description: "The Document Foundation (LibreOffice)", Module: "tdf-pub", Triggers: []string{"tdf-pub", "tdf"},
		SizeBytes: 600 * gb, Checker: "mirrorbrain"},
	{Name: "opensuse", Description: "openSUSE", Module: "opensuse", SizeBytes: 1000 * gb, Checker: "mirrorcache"},
	{Name: "fdroid", Description: "F-Droid repository", Module: "fdroid", Path: "repo/", SizeBytes: 120 * gb, Checker: "fdroid"},
	{Name: "raspbian", Description: "Raspbian", Module: "raspbian", Stages: TwoStage, FirstStageExclude: aptIndices, SizeBytes: 250 * gb, Checker: "raspbian"},
	// KDE's upstream keeps its change marker beside stable/, at the
	// module's root.
	{Name: "kde", Description: "KDE (stable releases)", Module: "kdeftp", Path: "stable/", Triggers: []string{"kdeftp", "kde"},
		ChangeMarker: "/kdeftp/last-updated", SizeBytes: 60 * gb, Checker: "mirrorbrain"},
	// cve-bin-tool's mirror of the vulnerability data it downloads.
	{Name: "cvebin", Description: "CVE Binary Tool vulnerability data", Module: "cvebin", SizeBytes: 10 * gb, Checker: "cve-bin-tool"},
	// CentOS Linux is past its end of life but still fetched from
	// mirrors; CentOS Stream is current.
	{Name: "centos", Description: "CentOS Linux", Module: "centos", SizeBytes: 300 * gb, Checker: "mirrorlist.centos.org"},
	{Name: "centos-altarch", Description: "CentOS Linux, other architectures", Module: "centos-altarch", SizeBytes: 300 * gb,
		Checker: "mirrorlist.centos.org"},
	{Name: "centos-stream", Description: "CentOS Stream", Module: "centos-stream", SizeBytes: 400 * gb, Checker: "mirrormanager"},
}

// aliases are the names fleets already use for catalog projects (the
// Micro Mirrors' host_vars say fdroid-repo, kdeftp-stable,
// rpmfusion-nonfree): a project may be hosted under either name.
var aliases = map[string]string{
	"fdroid-repo":       "fdroid",
	"kdeftp-stable":     "kde",
	"rpmfusion-nonfree": "rpmfusion",
}

func canonical(name string) string {
	if c, ok := aliases[name]; ok {
		return c
	}
	return name
}

// Lookup returns the recipe of a project by catalog name or alias, with
// defaults filled in (triggers default to the module, stages to one). An
// alias's recipe carries the alias as its name: the node reports the
// project under the name its config gives.
func Lookup(name string) (Recipe, bool) {
	c := canonical(name)
	for _, r := range recipes {
		if r.Name == c {
			r = withDefaults(r)
			r.Name = name
			return r, true
		}
	}
	return Recipe{}, false
}

// Canonical is the catalog's own name of a project named by alias.
func Canonical(name string) string { return canonical(name) }

// Aliases are the other names of a catalog project.
func Aliases(name string) []string {
	var out []string
	for a, c := range aliases {
		if c == name {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// All returns every recipe, sorted by name, with defaults filled in.
func All() []Recipe {
	out := make([]Recipe, 0, len(recipes))
	for _, r := range recipes {
		out = append(out, withDefaults(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the catalog's project names, sorted.
func Names() []string {
	var names []string
	for _, r := range All() {
		names = append(names, r.Name)
	}
	return names
}

func withDefaults(r Recipe) Recipe {
	r.Register, r.MirrorList = links[r.Name][0], links[r.Name][1]
	if len(r.Triggers) == 0 {
		r.Triggers = []string{r.Module}
	}
	if r.Stages == 0 {
		r.Stages = OneStage
	}
	// Copy slices so callers cannot change the built-in table.
	r.Triggers = slices.Clone(r.Triggers)
	r.Exclude = slices.Clone(r.Exclude)
	r.FirstStageExclude = slices.Clone(r.FirstStageExclude)
	r.UpstreamMarkers = slices.Clone(r.UpstreamMarkers)
	r.Manifests = slices.Clone(r.Manifests)
	return r
}
