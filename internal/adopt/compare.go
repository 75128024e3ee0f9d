package adopt

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"micromirror/internal/inventory"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/syncer"
)

// Difference is one thing a node would do otherwise under micromirror
// than under the Ansible templates.
type Difference struct {
	Node, Project string
	// Key is what differs: url, rsync module, source, extra file, topic,
	// bwlimit, exclude, project, node.
	Key               string
	Ansible, Rendered string
}

func (d Difference) String() string {
	subject := d.Node
	if d.Project != "" {
		subject += " " + d.Project
	}
	return fmt.Sprintf("%s: %s: Ansible %s, micromirror %s", subject, d.Key, orNone(d.Ansible), orNone(d.Rendered))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Compare lists, per node and project, every URL prefix, rsync module,
// upstream source, extra file, topic, bandwidth limit and exclude of the
// inventory's rendered node configs that differs from what the Ansible
// templates make for the same host. Triggers micromirror listens to
// beyond the fleet's topics are not differences (nothing the world holds
// changes); a topic of the fleet it does not listen to is. The excludes
// compared are the final, deleting pass's: what the tree holds.
func Compare(a *Ansible, t *Templates, f *inventory.Fleet) ([]Difference, int, error) {
	var diffs []Difference
	compared := 0
	for _, h := range a.Hosts {
		n := f.NodeByName(h.Name)
		if n == nil {
			diffs = append(diffs, Difference{Node: h.Name, Key: "node", Ansible: "in the inventory", Rendered: "not in the inventory"})
			continue
		}
		cfg, err := f.NodeConfig(n)
		if err != nil {
			return nil, 0, err
		}
		plans, _ := syncer.Plans(cfg)
		for _, project := range h.Projects {
			i := slices.IndexFunc(cfg.Projects, func(p nodeconfig.Project) bool { return p.Name == project })
			if i < 0 {
				diffs = append(diffs, Difference{Node: h.Name, Project: project, Key: "project", Ansible: "hosted", Rendered: "not hosted"})
				continue
			}
			made, err := t.Make(h.Name, project)
			if err != nil {
				return nil, 0, err
			}
			var plan *syncer.Plan
			for j := range plans {
				if plans[j].Name == project {
					plan = &plans[j]
				}
			}
			compared++
			diffs = append(diffs, compareProject(h.Name, cfg, cfg.Projects[i], plan, made, t.WebRoot)...)
		}
		for _, p := range cfg.Projects {
			if !slices.Contains(h.Projects, p.Name) {
				diffs = append(diffs, Difference{Node: h.Name, Project: p.Name, Key: "project", Ansible: "not hosted", Rendered: "hosted"})
			}
		}
	}
	return diffs, compared, nil
}

func compareProject(node string, cfg nodeconfig.Config, p nodeconfig.Project, plan *syncer.Plan, m Made, root string) []Difference {
	var out []Difference
	diff := func(key, ansible, rendered string) {
		if ansible != rendered {
			out = append(out, Difference{Node: node, Project: p.Name, Key: key, Ansible: ansible, Rendered: rendered})
		}
	}
	local := func(dest string) string {
		return strings.Trim(strings.TrimPrefix(path.Clean(dest), root), "/")
	}
	// The tree: the last directory pull (the deleting pass of two).
	var tree *Pull
	var files []string
	for i := range m.Pulls {
		if strings.HasSuffix(m.Pulls[i].Src, "/") {
			tree = &m.Pulls[i]
		} else {
			files = append(files, local(m.Pulls[i].Dest))
		}
	}
	if tree == nil {
		diff("url", "no rsync pull in the update script", "/"+p.URLPath()+"/")
		return out
	}
	diff("url", "/"+local(tree.Dest)+"/", "/"+p.URLPath()+"/")
	var modules []string
	for _, mod := range m.Modules {
		modules = append(modules, mod[0]+" → "+local(mod[1])+"/")
	}
	diff("rsync module", strings.Join(modules, ", "), p.RsyncModule()+" → "+p.RsyncDir()+"/")
	sort.Strings(files)
	extra := slices.Clone(p.ExtraFiles)
	sort.Strings(extra)
	diff("extra file", strings.Join(files, ", "), strings.Join(extra, ", "))
	if plan == nil {
		diff("source", tree.Src, "")
		return out
	}
	diff("source", strings.TrimRight(tree.Src, "/")+"/", plan.Source)
	for _, topic := range m.Topics {
		if !slices.Contains(plan.Triggers, topic) {
			diff("topic", "rsync/"+nodeconfig.UpstreamHost(cfg.Upstream)+"/"+topic, "not a trigger (triggers: "+strings.Join(plan.Triggers, ", ")+")")
		}
	}
	// rsync sends --bwlimit in whole KB: a rate within 1 KB/s is the same.
	if d := tree.BytesPerSec - plan.BytesPerSec; d > 1000 || d < -1000 {
		diff("bwlimit", rate(tree.BytesPerSec), rate(plan.BytesPerSec))
	}
	a, r := slices.Clone(tree.Exclude), slices.Clone(plan.Exclude)
	sort.Strings(a)
	sort.Strings(r)
	diff("exclude", strings.Join(a, " "), strings.Join(r, " "))
	return out
}

func rate(bytesPerSec int64) string {
	if bytesPerSec == 0 {
		return "unpaced"
	}
	return fmt.Sprintf("%.1f Mbit/s", float64(bytesPerSec)*8/1e6)
}
