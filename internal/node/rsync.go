package node

import (
	"fmt"
	"net"
	"path/filepath"

	"micromirror/internal/catalog"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/rsyncd"
)

func (n *Node) setRsyncModules(cfg nodeconfig.Config) error {
	var mods []rsyncd.Module
	projectOf := map[string]string{}
	for _, p := range cfg.Projects {
		desc := p.Name
		if r, ok := catalog.Lookup(p.Name); ok {
			desc = r.Description
		}
		mods = append(mods, rsyncd.Module{Name: p.RsyncModule(), Path: filepath.Join(cfg.DataDir, p.RsyncDir()),
			Comment: fmt.Sprintf("%s (%s, hosted by %s)", desc, cfg.Name, cfg.Sponsor.Name)})
		projectOf[p.RsyncModule()] = p.Name
	}
	return n.rsync.SetModules(mods, projectOf)
}

// RsyncAddrs returns the bound rsync addresses.
func (n *Node) RsyncAddrs() []net.Addr { return n.rsync.Addrs() }

// RsyncSessions is the number of rsync sessions running now.
func (n *Node) RsyncSessions() int64 { return n.rsync.Sessions() }
