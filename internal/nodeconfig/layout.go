package nodeconfig

import (
	"fmt"
	"path"
	"strings"
)

// A project's layout on a node. Its synced tree is data_dir/<path>, served
// at /<path>/ (the URL projects' mirror lists hold); path may have several
// segments (a fleet serving /fdroid/repo/ or /kdeftp/stable/). The first
// segment is the directory the project owns: served over HTTP at
// /<first>/ as a whole (as a web server rooted at data_dir would), and
// under it the rsync module (module, default that directory; module_dir,
// default that directory too) and the extra files a project pulls
// besides its tree (KDE's kdeftp/last-updated beside kdeftp/stable/).

// URLPath is the project's synced tree under data_dir and its URL prefix.
func (p Project) URLPath() string {
	if p.Path != "" {
		return strings.Trim(p.Path, "/")
	}
	return p.Name
}

// Top is the directory under data_dir the project owns: the first segment
// of its path, served over HTTP as a whole.
func (p Project) Top() string {
	top, _, _ := strings.Cut(p.URLPath(), "/")
	return top
}

// RsyncModule is the name of the rsync module the project is served as.
func (p Project) RsyncModule() string {
	if p.Module != "" {
		return p.Module
	}
	return path.Base(p.RsyncDir())
}

// RsyncDir is the directory under data_dir the rsync module exposes: the
// project's path or a directory above it.
func (p Project) RsyncDir() string {
	if p.ModuleDir != "" {
		return strings.Trim(p.ModuleDir, "/")
	}
	return p.Top()
}

// RsyncPath is the project's tree on the node's rsync daemon:
// module/sub/path (kdeftp/stable, fedora-epel).
func (p Project) RsyncPath() string {
	return p.RsyncModule() + strings.TrimPrefix(p.URLPath(), p.RsyncDir())
}

// validateLayout checks one project's path, module, upstream path and
// extra files; overlaps between projects are validateOverlaps'.
func validateLayout(p *Project, key string, bad reporter) {
	urlPath := p.URLPath()
	if p.Path != "" {
		segs := strings.Split(urlPath, "/")
		for _, s := range segs {
			if !segmentRE.MatchString(s) {
				bad(key+".path", "%q: each directory of a path is a plain name (letters, digits, '.', '_', '-'; no '..')", p.Path)
				return
			}
		}
		if reservedPaths[segs[0]] {
			bad(key+".path", "%q is served by the node itself", segs[0])
		}
		if len(segs) > 4 {
			bad(key+".path", "%q: at most 4 directories deep", p.Path)
		}
	}
	if p.Module != "" && !segmentRE.MatchString(p.Module) {
		bad(key+".module", "%q: an rsync module name is one plain name (letters, digits, '.', '_', '-')", p.Module)
	}
	if p.ModuleDir != "" {
		dir := p.RsyncDir()
		if !isTreePath(dir) || !within(urlPath, dir) {
			bad(key+".module_dir", "%q must be the project's path %q or a directory above it", p.ModuleDir, urlPath)
		}
	}
	if p.UpstreamPath != "" {
		if p.Source != "" {
			bad(key+".upstream_path", "give source or upstream_path, not both")
		} else if !isTreePath(strings.Trim(p.UpstreamPath, "/")) {
			bad(key+".upstream_path", "%q: a module and path on the upstream, e.g. fedora-enchilada0 or kdeftp/stable", p.UpstreamPath)
		}
	}
	for j, f := range p.ExtraFiles {
		k := fmt.Sprintf("%s.extra_files[%d]", key, j)
		switch {
		case !isTreePath(f) || strings.HasSuffix(f, "/"):
			bad(k, "%q: a file's path, the same on the upstream and under data_dir", f)
		case !within(f, p.Top()) || f == p.Top():
			bad(k, "%q must be inside the project's directory %q", f, p.Top())
		case within(f, urlPath):
			bad(k, "%q is inside the synced tree %q, which the sync would delete it from", f, urlPath)
		}
	}
}

// validateOverlaps refuses two projects that would share a directory or
// an rsync module: each would serve, sync or delete the other's files.
func (c *Config) validateOverlaps(bad reporter) {
	tops := map[string]int{}
	modules := map[string]int{}
	for i, p := range c.Projects {
		key := fmt.Sprintf("projects[%d]", i)
		if j, dup := tops[p.Top()]; dup && p.Top() != "" {
			other := c.Projects[j]
			bad(key+".path", "%q overlaps projects[%d] (%s at %q): projects need directories of their own", p.URLPath(), j, other.Name, other.URLPath())
		} else {
			tops[p.Top()] = i
		}
		if j, dup := modules[p.RsyncModule()]; dup && c.Projects[j].Top() != p.Top() {
			bad(key+".module", "rsync module %q is already projects[%d]'s (%s)", p.RsyncModule(), j, c.Projects[j].Name)
		} else {
			modules[p.RsyncModule()] = i
		}
	}
}

// within reports whether p is dir or below it (slash paths).
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
