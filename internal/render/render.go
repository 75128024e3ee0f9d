// Package render turns the fleet inventory into every file the fleet's
// programs read: each node's node.yaml with its secrets, the watchtower's
// node list and the announcer's module list. Every file is read back with
// the loader of the program that will use it before the output directory
// is replaced, so a render never leaves a half-written or invalid set.
package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"micromirror/internal/announce"
	"micromirror/internal/catalog"
	"micromirror/internal/inventory"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/watchtower"
)

// Marker names the file that says a directory is a render's output; only
// such a directory (or an empty one) is ever replaced.
const Marker = ".micromirror-render"

// Files of the output, relative to its directory.
const (
	NodesDir       = "nodes"
	WatchtowerFile = "watchtower/nodes.yaml"
	AnnounceFile   = "announce/modules.yaml"
)

// file is one output file.
type file struct {
	data []byte
	perm fs.FileMode
}

// Result says what a render wrote and what changed since the last one.
type Result struct {
	Nodes   []string // rendered nodes
	Modules []string // modules the announcer watches
	// Added, Changed and Removed are output paths compared with the
	// directory's previous contents.
	Added, Changed, Removed []string
}

// Build renders the fleet in memory: path (slash-separated, relative to the
// output directory) to contents. It fails if the secrets file lacks what a
// node needs.
func Build(f *inventory.Fleet, s *inventory.Secrets) (map[string]file, error) {
	if missing := s.Missing(f); len(missing) > 0 {
		list := missing
		if len(list) > 5 {
			list = append(list[:5:5], fmt.Sprintf("and %d more", len(missing)-5))
		}
		return nil, fmt.Errorf("the secrets file lacks %s: run micromirror fleet secrets to generate them", strings.Join(list, ", "))
	}
	out := map[string]file{
		Marker: {[]byte("Rendered by micromirror fleet render from " + filepath.Base(f.Path()) +
			". The next render replaces everything here: edit the inventory instead.\n"), 0o644},
	}
	var wt []watchtower.NodeConfig
	for _, n := range f.Live() {
		cfg, err := f.NodeConfig(n)
		if err != nil {
			return nil, err
		}
		body, err := nodeYAML(cfg)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", n.Name, err)
		}
		dir := path.Join(NodesDir, n.Name)
		out[path.Join(dir, "node.yaml")] = file{body, 0o644}
		if cfg.Telemetry.TokenFile != "" {
			tok := s.TelemetryTokens[n.Name]
			out[path.Join(dir, inventory.TokenFile)] = file{[]byte(tok + "\n"), 0o600}
			wt = append(wt, watchtower.NodeConfig{Name: n.Name, TokenSHA256: watchtower.HashToken(tok),
				Sponsor: n.Sponsor.Name, SponsorURL: n.Sponsor.URL, Country: n.Location.Country, Probes: probes(cfg), Projects: ownProjects(cfg)})
		}
		if cfg.MQTT.PasswordFile != "" {
			out[path.Join(dir, inventory.MQTTPasswordFile)] = file{[]byte(s.MQTTPassword + "\n"), 0o600}
		}
	}
	if f.Watchtower.URL != "" {
		body, err := listYAML(watchtowerHeader, "nodes", wt)
		if err != nil {
			return nil, err
		}
		out[WatchtowerFile] = file{body, 0o644}
	}
	body, err := listYAML(announceHeader, "modules", modules(f))
	if err != nil {
		return nil, err
	}
	out[AnnounceFile] = file{body, 0o644}
	return out, nil
}

const nodeHeader = `# node.yaml of %s, rendered by micromirror fleet render from the
# fleet inventory: edit the inventory, not this file. Keys not here keep
# their defaults (docs/config.md); secrets/ holds this node's secrets.
`

const watchtowerHeader = `# The nodes allowed to push telemetry, rendered by micromirror fleet render
# from the fleet inventory. watchtower.yaml reads it with nodes_file.
`

const announceHeader = `# The upstream modules the fleet's nodes sync, rendered by micromirror fleet
# render from the fleet inventory. announce.yaml reads it with modules_file.
`

// nodeYAML writes what differs from the node's built-in defaults.
func nodeYAML(cfg nodeconfig.Config) ([]byte, error) {
	ms := changed(reflect.ValueOf(cfg), reflect.ValueOf(nodeconfig.Default()))
	body, err := yaml.MarshalWithOptions(ms, yaml.IndentSequence(true))
	if err != nil {
		return nil, err
	}
	return append([]byte(fmt.Sprintf(nodeHeader, cfg.Name)), body...), nil
}

// listYAML writes {key: list} with each element's unset fields left out.
func listYAML[T any](header, key string, list []T) ([]byte, error) {
	items := make([]any, len(list))
	var zero T
	for i, v := range list {
		items[i] = changed(reflect.ValueOf(v), reflect.ValueOf(zero))
	}
	body, err := yaml.MarshalWithOptions(yaml.MapSlice{{Key: key, Value: items}}, yaml.IndentSequence(true))
	if err != nil {
		return nil, err
	}
	return append([]byte(header), body...), nil
}

// probes are the URLs the watchtower checks a node at: its public name
// over each protocol it serves.
func probes(cfg nodeconfig.Config) []string {
	var out []string
	if len(cfg.Listen.HTTP) > 0 {
		out = append(out, "http://"+cfg.Name+"/")
	}
	if len(cfg.Listen.HTTPS) > 0 {
		out = append(out, "https://"+cfg.Name+"/")
	}
	return out
}

// modules are the upstream modules the live nodes sync, with where the
// upstream keeps each and the marker file that changes with it.
func modules(f *inventory.Fleet) []announce.Module {
	byName := map[string]announce.Module{}
	for _, n := range f.Live() {
		for _, p := range n.Hosted() {
			r, ok := catalog.Lookup(p)
			if !ok {
				r = catalog.Recipe{Name: p, Module: p}
			}
			entry := f.ProjectEntry(p)
			if entry.Source != "" {
				continue // synced from elsewhere: not the upstream's to announce
			}
			module, sub := r.Module, r.Path
			if entry.UpstreamPath != "" {
				module, sub, _ = strings.Cut(strings.Trim(entry.UpstreamPath, "/"), "/")
			}
			m := announce.Module{Name: module, Path: path.Join(f.Upstream.Root, module)}
			if dir := f.Upstream.Paths[module]; dir != "" {
				m.Path = dir
			}
			marker := r.ChangeMarker
			if entry.ChangeMarker != nil {
				marker = *entry.ChangeMarker
			}
			switch {
			case strings.HasPrefix(marker, "/"+module+"/"):
				m.Marker = strings.TrimPrefix(marker, "/"+module+"/") // at the upstream's root (KDE's)
			case marker != "" && !strings.HasPrefix(marker, "/"):
				m.Marker = path.Join(sub, marker)
			}
			byName[m.Name] = m
		}
	}
	out := make([]announce.Module, 0, len(byName))
	for _, m := range byName {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Write renders the fleet into dir: into a new directory beside it first,
// read back there by the programs' own loaders, then swapped in place of
// the old output. dir must be missing, empty, or an earlier render.
func Write(f *inventory.Fleet, s *inventory.Secrets, dir string) (*Result, error) {
	files, err := Build(f, s)
	if err != nil {
		return nil, err
	}
	if err := replaceable(dir); err != nil {
		return nil, err
	}
	// Loaders resolve paths against the absolute directory of each file.
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".render-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	for rel, fl := range files {
		p := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if fl.perm&0o077 == 0 {
			// secrets/ is its owner's alone; the directories above it
			// stay open to the programs that read the configs.
			if err := os.Chmod(filepath.Dir(p), 0o700); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(p, fl.data, fl.perm); err != nil {
			return nil, err
		}
	}
	res, err := readBack(f, tmp)
	if err != nil {
		return nil, err
	}
	res.Added, res.Changed, res.Removed = compare(dir, files)
	if err := swap(tmp, dir); err != nil {
		return nil, err
	}
	return res, nil
}

// readBack loads every rendered file with the code its program runs.
func readBack(f *inventory.Fleet, dir string) (*Result, error) {
	res := &Result{}
	for _, n := range f.Live() {
		p := filepath.Join(dir, NodesDir, n.Name, "node.yaml")
		got, err := nodeconfig.Load(p)
		if err != nil {
			return nil, fmt.Errorf("rendered config does not load: %w", err)
		}
		want, _ := f.NodeConfig(n)
		want.Normalize(filepath.Dir(p))
		if !reflect.DeepEqual(got, want) {
			return nil, fmt.Errorf("rendered node.yaml of %s does not read back as the inventory says (a bug in render)", n.Name)
		}
		res.Nodes = append(res.Nodes, n.Name)
	}
	if p := filepath.Join(dir, WatchtowerFile); f.Watchtower.URL != "" {
		nodes, err := watchtower.LoadNodes(p)
		if err == nil {
			err = watchtower.CheckNodes(p, nodes)
		}
		if err != nil {
			return nil, fmt.Errorf("rendered watchtower node list does not load: %w", err)
		}
	}
	p := filepath.Join(dir, AnnounceFile)
	mods, err := announce.LoadModules(p)
	if err == nil {
		err = announce.CheckModules(p, mods)
	}
	if err != nil {
		return nil, fmt.Errorf("rendered module list does not load: %w", err)
	}
	for _, m := range mods {
		res.Modules = append(res.Modules, m.Name)
	}
	return res, nil
}

// replaceable refuses to replace a directory a render did not make.
func replaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, Marker)); err != nil {
		return fmt.Errorf("refusing to replace %s: it is not empty and holds no %s, so fleet render did not make it", dir, Marker)
	}
	return nil
}

// compare lists the paths added, changed and removed against dir's files.
func compare(dir string, files map[string]file) (added, changedPaths, removed []string) {
	old := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			old[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	for rel, fl := range files {
		switch prev, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel))); {
		case err != nil:
			added = append(added, rel)
		case !bytes.Equal(prev, fl.data):
			changedPaths = append(changedPaths, rel)
		}
		delete(old, rel)
	}
	for rel := range old {
		removed = append(removed, rel)
	}
	sort.Strings(added)
	sort.Strings(changedPaths)
	sort.Strings(removed)
	return added, changedPaths, removed
}

// swap puts tmp in dir's place; the old output is removed only once the
// new one is there.
func swap(tmp, dir string) error {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return os.Rename(tmp, dir)
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Rename(old, dir)
		return err
	}
	return os.RemoveAll(old)
}

// ownProjects are a node's projects that are not catalog recipes: the
// watchtower takes telemetry for those only if its node list names them.
func ownProjects(cfg nodeconfig.Config) []string {
	var out []string
	for _, p := range cfg.Projects {
		if _, ok := catalog.Lookup(p.Name); !ok {
			out = append(out, p.Name)
		}
	}
	return out
}

// File is one rendered file as fleet deploy sends it.
type File struct {
	Data []byte
	Perm fs.FileMode
}

// Rendered is the whole render in memory, by output path: nodes/<name>/...,
// WatchtowerFile, AnnounceFile. Each node's config is checked by the
// node's own loader here, as Write does before it writes.
func Rendered(f *inventory.Fleet, s *inventory.Secrets) (map[string]File, error) {
	files, err := Build(f, s)
	if err != nil {
		return nil, err
	}
	out := make(map[string]File, len(files))
	for p, fl := range files {
		out[p] = File{Data: fl.data, Perm: fl.perm}
	}
	for _, n := range f.Live() {
		p := path.Join(NodesDir, n.Name, "node.yaml")
		if _, err := nodeconfig.Parse(p, files[p].data); err != nil {
			return nil, err
		}
	}
	return out, nil
}
