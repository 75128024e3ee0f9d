package inventory

import (
	"reflect"

	"micromirror/internal/catalog"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/yamlconf"
)

// ProjectEntry is a project's entry in every node config that hosts it:
// where the fleet's layout puts it, then the portfolio's keys over that.
func (f *Fleet) ProjectEntry(name string) nodeconfig.Project {
	entry := nodeconfig.Project{Name: name}
	if l, ok := catalog.LayoutOf(f.Layout, name); ok {
		entry.Path, entry.Module, entry.ModuleDir, entry.UpstreamPath = l.Path, l.Module, l.ModuleDir, l.UpstreamPath
		entry.ExtraFiles = l.ExtraFiles
		if l.Exclude != nil {
			entry.Exclude = l.Exclude
			entry.DeleteExcluded = &l.DeleteExcluded
		}
		if l.BwlimitBits > 0 {
			entry.Bwlimit = yamlconf.Bits(l.BwlimitBits)
		}
	}
	if p := f.Projects[name]; p != nil {
		overlay(&entry, p.Project)
		if p.Source != "" {
			entry.UpstreamPath = "" // a whole URL replaces the upstream's path
		}
	}
	entry.Name = name
	return entry
}

// overlay sets every field of over that is set on dst.
func overlay(dst *nodeconfig.Project, over nodeconfig.Project) {
	d, o := reflect.ValueOf(dst).Elem(), reflect.ValueOf(over)
	for i := 0; i < o.NumField(); i++ {
		if !o.Field(i).IsZero() {
			d.Field(i).Set(o.Field(i))
		}
	}
}
