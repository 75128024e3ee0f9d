package catalog

import "slices"

// Layout is where a project lives in one fleet's own scheme: the URL path,
// rsync module and upstream path it has been registered under, and the
// sync settings that fleet gave it. A fleet adopted by micromirror keeps
// these (every renamed URL or module is a re-registration with the
// project); a new fleet uses the catalog's defaults.
type Layout struct {
	Path, Module, ModuleDir, UpstreamPath string
	ExtraFiles                            []string
	// Exclude replaces the recipe's when not nil; DeleteExcluded with it.
	Exclude        []string
	DeleteExcluded bool
	// BwlimitBits replaces the recipe's pacing when not zero.
	BwlimitBits int64
}

// Layouts are the fleets' schemes by name.
var layouts = map[string]map[string]Layout{
	"fcix": fcix,
}

// fcix is the Micro Mirrors fleet (<sponsor>.mm.fcix.net) as its Ansible
// templates (2022-2024) lay projects out: data served from /data/mirror
// at the same URL paths, one rsync module per project, synced from
// mirror.fcix.net with rsync's --bwlimit=25M (25 MiB/s: fleet import
// sets sync.bwlimit to it) or 10M for Arch and Manjaro. Projects not
// listed keep the catalog's layout, which is theirs too (almalinux, gimp,
// ubuntu, ...).
var fcix = map[string]Layout{
	"archlinux": {BwlimitBits: 10 << 20 * 8},
	"manjaro":   {BwlimitBits: 10 << 20 * 8},
	"epel": {Path: "epel", Module: "fedora-epel", UpstreamPath: "fedora-epel", DeleteExcluded: true,
		Exclude: []string{"**/source/**", "**/s390x/**", "**/playground/**", "**/debug/**"}},
	"epel-amd64": {Path: "epel", Module: "fedora-epel", UpstreamPath: "fedora-epel", DeleteExcluded: true,
		Exclude: []string{"**/source/**", "**/armhfp/**", "**/aarch64/**", "**/ppc64/**", "**/ppc64le/**", "**/s390x/**",
			"**/testing/**", "**/playground/**", "**/next/**", "**/debug/**"}},
	"fedora": {Path: "fedora", Module: "fedora-enchilada", UpstreamPath: "fedora-enchilada0", DeleteExcluded: true,
		Exclude: []string{"**/source/**", "**/debug/**"}},
	"fedora-amd64": {Path: "fedora", Module: "fedora-enchilada", UpstreamPath: "fedora-enchilada0", DeleteExcluded: true,
		Exclude: []string{"**/source/**", "**/armhfp/**", "**/aarch64/**", "**/debug/**", "**/test/**", "**/testing/**",
			"**/Spins/**", "**/Kinoite/**", "**/Sericea/**", "**/Silverblue/**"}},
	"fdroid":    {Path: "fdroid/repo", Module: "fdroid", UpstreamPath: "fdroid/repo"},
	"kde":       {Path: "kdeftp/stable", Module: "kdeftp", UpstreamPath: "kdeftp/stable", ExtraFiles: []string{"kdeftp/last-updated"}},
	"opensuse":  {Path: "opensuse/tumbleweed", Module: "opensuse", UpstreamPath: "opensuse/tumbleweed"},
	"rpmfusion": {Path: "rpmfusion/nonfree", Module: "rpmfusion", UpstreamPath: "rpmfusion/nonfree"},
	"tdf":       {Path: "tdf", Module: "tdf-pub", UpstreamPath: "tdf-pub"},
	"videolan":  {Path: "videolan-ftp", Module: "videolan-ftp", UpstreamPath: "videolan-ftp"},
}

// LayoutNames are the known layouts, for messages.
func LayoutNames() []string {
	var names []string
	for n := range layouts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// HasLayout reports whether a layout of that name exists.
func HasLayout(name string) bool { _, ok := layouts[name]; return ok }

// LayoutOf is where a project (by catalog name or alias) lives in a
// layout; false keeps the catalog's layout.
func LayoutOf(layout, project string) (Layout, bool) {
	l, ok := layouts[layout][canonical(project)]
	if !ok {
		return Layout{}, false
	}
	l.ExtraFiles = slices.Clone(l.ExtraFiles)
	l.Exclude = slices.Clone(l.Exclude)
	return l, true
}
