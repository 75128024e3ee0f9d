package watchtower

import (
	"context"
	"time"

	"micromirror/internal/catalog"
)

// enrich adds what the store alone cannot know: each project's lag behind
// the newest announced change of the upstream modules the node syncs it
// on (as the node reports them; the catalog's for an older node), and
// each node's state from the open alerts. It is the one definition of
// both: the API, the dashboard and /metrics all read it.
func (s *Server) enrich(ctx context.Context, nodes []NodeSummary, now time.Time) []NodeSummary {
	ann, err := s.store.Announcements(ctx)
	if err != nil {
		s.log.Error("announcements", "err", err)
	}
	for i := range nodes {
		for j := range nodes[i].Projects {
			p := &nodes[i].Projects[j]
			triggers := p.Triggers // the node's own: its plan's
			if len(triggers) == 0 {
				triggers = []string{p.Project}
				if r, ok := catalog.Lookup(p.Project); ok {
					triggers = r.Triggers
				}
			}
			for _, m := range triggers {
				if at, ok := ann[m]; ok && at.After(p.Announced) {
					p.Announced = at
				}
			}
			if !p.Announced.IsZero() && p.LastSuccess.Before(p.Announced) {
				p.LagSeconds = int64(now.Sub(p.Announced).Seconds())
			}
		}
	}
	state := map[string]string{}
	for _, a := range s.Alerts.Open() {
		switch a.Kind {
		case "node-silent", "probe-failing":
			state[a.Node] = "down"
		default:
			if state[a.Node] == "" {
				state[a.Node] = "degraded"
			}
		}
	}
	for i := range nodes {
		nodes[i].State = state[nodes[i].Node]
		if nodes[i].State == "" {
			nodes[i].State = "ok"
		}
	}
	return nodes
}
