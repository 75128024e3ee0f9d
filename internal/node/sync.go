package node

import (
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/status"
	"micromirror/internal/syncer"
)

func (n *Node) startEngine(cfg nodeconfig.Config) {
	plans, skipped := syncer.Plans(cfg)
	for _, s := range skipped {
		n.log.Warn("not syncing", "project", s)
	}
	n.plans = plans
	n.serveOnly = nil
	synced := map[string]bool{}
	for _, p := range plans {
		synced[p.Name] = true
	}
	for _, p := range cfg.Projects {
		if !synced[p.Name] {
			n.serveOnly = append(n.serveOnly, p.Name)
		}
	}
	n.engine = syncer.New(syncer.Settings{NodeName: cfg.Name, Contact: cfg.Contact, Sponsor: cfg.Sponsor.Name,
		StateDir: cfg.StateDir, Sync: cfg.Sync}, plans, n.status, n.log.With("component", "sync"))
	n.engine.Open(n.runCtx)
}

// ProjectStatus lists every hosted project: the engine's, and the ones
// served without a source as "not-synced".
func (n *Node) ProjectStatus() []syncer.ProjectStatus {
	out := n.Engine().Status()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, name := range n.serveOnly {
		out = append(out, syncer.ProjectStatus{Project: status.Project{Name: name, State: "not-synced",
			LastError: "no source and no upstream configured: served as it is"}})
	}
	return out
}

// Engine is the node's sync engine (triggers, status).
func (n *Node) Engine() *syncer.Engine {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.engine
}

func (n *Node) lastSync(project string) time.Time {
	p, err := n.status.Load(project)
	if err != nil {
		return time.Time{}
	}
	return p.LastSuccess
}
