// Package syncer keeps each hosted project fresh from the upstream with the
// system rsync: one run per project at a time (also across processes),
// paced transfers, a node-wide cap on concurrent runs, triggers that
// coalesce into exactly one follow-up run, change-marker checks that skip
// needless runs, guards that refuse harmful runs, freshness markers for the
// distros' checkers, retries with backoff, and a fallback schedule.
package syncer

import (
	"fmt"
	"hash/fnv"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"micromirror/internal/catalog"
	"micromirror/internal/nodeconfig"
)

// Plan is the effective recipe of one project on this node: the catalog's
// recipe with the node config's overrides applied.
type Plan struct {
	catalog.Recipe
	Path   string // directory under data_dir, URL prefix
	Dir    string // absolute tree
	Source string // rsync URL ending in '/'
	// Extra are single files pulled besides the tree after a sync.
	Extra       []ExtraFile
	BytesPerSec int64
	Interval    time.Duration
	// Offset places this project's scheduled runs inside the interval,
	// derived from the node and project names so a fleet spreads its load.
	Offset time.Duration
	// Journal: read the upstream's change journal (journal.File at the
	// top of the source's module) and transfer only what it lists.
	Journal bool
}

// ExtraFile is one file pulled besides a project's tree (KDE's
// kdeftp/last-updated next to kdeftp/stable/).
type ExtraFile struct {
	URL  string // rsync://host/path
	Dest string // absolute
}

// Plans resolves every project of a node config; projects without a
// source (no upstream configured) are left out and reported.
func Plans(cfg nodeconfig.Config) ([]Plan, []string) {
	var plans []Plan
	var skipped []string
	for _, p := range cfg.Projects {
		pl, err := planOf(cfg, p)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		plans = append(plans, pl)
	}
	return plans, skipped
}

func planOf(cfg nodeconfig.Config, p nodeconfig.Project) (Plan, error) {
	r, ok := catalog.Lookup(p.Name)
	if !ok {
		r = catalog.Recipe{Name: p.Name, Module: p.Name, Triggers: []string{p.Name}, Stages: catalog.OneStage}
	}
	pl := Plan{Recipe: r, Path: p.URLPath(), Dir: filepath.Join(cfg.DataDir, p.URLPath())}
	switch {
	case p.Source != "":
		pl.Source = normalizeSource(p.Source)
	case cfg.Upstream != "" && p.UpstreamPath != "":
		pl.Source = "rsync://" + cfg.Upstream + "/" + strings.Trim(p.UpstreamPath, "/") + "/"
	case cfg.Upstream != "":
		pl.Source = "rsync://" + cfg.Upstream + "/" + path.Join(r.Module, r.Path) + "/"
	default:
		return Plan{}, fmt.Errorf("no source and no upstream configured; serving only")
	}
	if len(p.Triggers) > 0 {
		pl.Triggers = slices.Clone(p.Triggers)
	} else if m := moduleOf(pl.Source); m != "" && !slices.Contains(pl.Triggers, m) {
		// A source naming another module is announced under that module.
		pl.Triggers = append(pl.Triggers, m)
	}
	if p.Exclude != nil {
		pl.Exclude = slices.Clone(p.Exclude)
	}
	for _, f := range p.ExtraFiles {
		pl.Extra = append(pl.Extra, ExtraFile{URL: "rsync://" + hostOf(pl.Source) + "/" + f, Dest: filepath.Join(cfg.DataDir, f)})
	}
	applyOverrides(&pl.Recipe, p)
	bits := cfg.Sync.Bwlimit.BitsPerSecond()
	if r.BwlimitBits > 0 {
		bits = r.BwlimitBits
	}
	if b := p.Bwlimit.BitsPerSecond(); b > 0 {
		bits = b
	}
	pl.BytesPerSec = bits / 8
	pl.Journal = cfg.Sync.Journal
	if p.Journal != nil {
		pl.Journal = *p.Journal
	}
	pl.Interval = cfg.Sync.Schedule.D()
	if d := p.Schedule.D(); d > 0 {
		pl.Interval = d
	}
	h := fnv.New64a()
	h.Write([]byte(cfg.Name + "/" + pl.Name))
	pl.Offset = time.Duration(h.Sum64() % uint64(pl.Interval/time.Second) * uint64(time.Second))
	return pl, nil
}

// normalizeSource accepts rsync://host/module/path or host::module/path
// and returns the rsync:// form ending in '/', so rsync copies contents.
func normalizeSource(s string) string {
	if host, rest, ok := strings.Cut(s, "::"); ok && !strings.Contains(s, "://") {
		s = "rsync://" + host + "/" + rest
	}
	return strings.TrimRight(s, "/") + "/"
}

// applyOverrides lets the node config change any field of the recipe.
func applyOverrides(r *catalog.Recipe, p nodeconfig.Project) {
	if p.Stages != 0 {
		r.Stages = catalog.Stages(p.Stages)
	}
	if p.FirstStageExclude != nil {
		r.FirstStageExclude = slices.Clone(p.FirstStageExclude)
	}
	if p.DeleteExcluded != nil {
		r.DeleteExcluded = *p.DeleteExcluded
	}
	if p.ChangeMarker != nil {
		r.ChangeMarker = *p.ChangeMarker
	}
	if p.UpstreamMarkers != nil {
		r.UpstreamMarkers = slices.Clone(p.UpstreamMarkers)
	}
	if p.TraceDir != nil {
		r.TraceDir = *p.TraceDir
	}
	if p.Manifests != nil {
		r.Manifests = slices.Clone(p.Manifests)
	}
	if p.FileList != nil {
		r.FileList = *p.FileList
	}
}

// moduleOf returns the module of rsync://host/module/path/.
func moduleOf(src string) string {
	rest := strings.TrimPrefix(src, "rsync://")
	_, rest, _ = strings.Cut(rest, "/")
	mod, _, _ := strings.Cut(rest, "/")
	return mod
}

// NextRun is the first scheduled time after now: the interval grid shifted
// by the plan's offset.
func (p Plan) NextRun(now time.Time) time.Time {
	iv := p.Interval
	base := now.Add(-p.Offset).Truncate(iv).Add(p.Offset)
	for !base.After(now) {
		base = base.Add(iv)
	}
	return base
}

// markerURL is where a marker is on the upstream: relative to the source,
// or to the upstream's root when it starts with '/' (KDE keeps
// kdeftp/last-updated above the kdeftp/stable/ a node syncs).
func (p Plan) markerURL(name string) string {
	if strings.HasPrefix(name, "/") {
		return "rsync://" + hostOf(p.Source) + "/" + strings.TrimLeft(name, "/")
	}
	return p.Source + name
}
