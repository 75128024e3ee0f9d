package placement

import (
	"fmt"
	"math"

	"micromirror/internal/yamlconf"
)

// source says where a node's expected bytes for a project come from.
type source struct {
	kind     string // measured, peers, prior, none
	scope    string // the peers' country, continent or "the fleet"
	peers    int
	measured float64 // bytes per day, for kind measured
}

// Bounds of a node's draw: how much more (or less) it serves than its
// peers serve of the same projects.
const minDraw, maxDraw = 0.2, 5.0

// peerMeans averages measured figures by project per country, continent
// and fleet, so a node's estimate comes from the nearest peers there are.
type peerMeans struct {
	byCountry, byCont map[[2]string]*acc
	byFleet           map[string]*acc
}

type acc struct {
	sum float64
	n   int
}

func (a *acc) add(v float64) { a.sum += v; a.n++ }

func newPeerMeans(s *state, base []map[int]float64, norm []float64) *peerMeans {
	pm := &peerMeans{byCountry: map[[2]string]*acc{}, byCont: map[[2]string]*acc{}, byFleet: map[string]*acc{}}
	get := func(m map[[2]string]*acc, k [2]string) *acc {
		if m[k] == nil {
			m[k] = &acc{}
		}
		return m[k]
	}
	for n, node := range s.nodes {
		for p := range s.projects { // in order: sums must not depend on map order
			b, ok := base[n][p]
			if !ok {
				continue
			}
			v, name := b/norm[n], s.projects[p].Name
			if node.Country != "" {
				get(pm.byCountry, [2]string{name, node.Country}).add(v)
			}
			if s.cont[n] != "" {
				get(pm.byCont, [2]string{name, s.cont[n]}).add(v)
			}
			if pm.byFleet[name] == nil {
				pm.byFleet[name] = &acc{}
			}
			pm.byFleet[name].add(v)
		}
	}
	return pm
}

// mean is the peers' mean for p as seen from n, without n's own figure
// (own, when counted), from the nearest tier that has one.
func (pm *peerMeans) mean(s *state, n, p int, own float64, counted bool) (float64, source) {
	name, node := s.projects[p].Name, s.nodes[n]
	tiers := []struct {
		a     *acc
		scope string
	}{
		{pm.byCountry[[2]string{name, node.Country}], node.Country},
		{pm.byCont[[2]string{name, s.cont[n]}], s.cont[n]},
		{pm.byFleet[name], "the fleet"},
	}
	for _, t := range tiers {
		if t.a == nil || t.scope == "" {
			continue
		}
		sum, k := t.a.sum, t.a.n
		if counted {
			sum, k = sum-own, k-1
		}
		if k > 0 {
			return sum / float64(k), source{kind: "peers", scope: t.scope, peers: k}
		}
	}
	return 0, source{kind: "none"}
}

// estimate gives every (node, project) the bytes per day the node would
// serve of the project with no other host nearby. Measured figures are
// scaled up by the crowding they were measured under, so a project
// measured on one of three neighbouring hosts is not undervalued
// elsewhere. A node that serves its projects more (or less) than its
// peers do has that draw applied to its estimates of the others. The
// crowding depends on the values it helps make (see pull), so the two
// are worked out in turn until the values settle.
func (s *state) estimate(d Demand, projIndex map[string]int) [][]source {
	var src [][]source
	prev := make([][]float64, len(s.nodes))
	for round := 0; round < maxEstimateRounds; round++ {
		for n := range s.nodes {
			prev[n] = append(prev[n][:0], s.value[n]...)
		}
		src = s.estimateOnce(d, projIndex)
		s.recount()
		if round > 0 && settled(prev, s.value) {
			break
		}
	}
	return src
}

// maxEstimateRounds bounds estimate's turns; a few usually settle it.
const maxEstimateRounds = 50

// settled says no value moved by more than 0.1% between two turns.
func settled(a, b [][]float64) bool {
	for n := range a {
		for p := range a[n] {
			if math.Abs(a[n][p]-b[n][p]) > 1e-3*math.Max(1, math.Abs(b[n][p])) {
				return false
			}
		}
	}
	return true
}

// estimateOnce is one turn of estimate, with the crowds as they are.
func (s *state) estimateOnce(d Demand, projIndex map[string]int) [][]source {
	base := make([]map[int]float64, len(s.nodes)) // n -> p -> base, measured hosts only
	for n, node := range s.nodes {
		base[n] = map[int]float64{}
		for name, bytes := range d[node.Name] {
			if p, ok := projIndex[name]; ok && s.host[p][n] && bytes >= 0 {
				base[n][p] = bytes * (1 + s.crowd[n][p])
			}
		}
	}
	ones := make([]float64, len(s.nodes))
	for n := range ones {
		ones[n] = 1
	}
	raw := newPeerMeans(s, base, ones)
	s.draw = make([]float64, len(s.nodes))
	for n := range s.nodes {
		var mine, theirs float64
		for p := range s.projects {
			b, ok := base[n][p]
			if !ok {
				continue
			}
			if m, _ := raw.mean(s, n, p, b, true); m > 0 {
				mine, theirs = mine+b, theirs+m
			}
		}
		s.draw[n] = 1
		if theirs > 0 {
			s.draw[n] = min(maxDraw, max(minDraw, mine/theirs))
		}
	}
	norm := newPeerMeans(s, base, s.draw)
	src := make([][]source, len(s.nodes))
	for n := range s.nodes {
		src[n] = make([]source, len(s.projects))
		for p, pr := range s.projects {
			if b, measured := base[n][p]; measured {
				s.value[n][p], src[n][p] = b, source{kind: "measured", measured: d[s.nodes[n].Name][pr.Name]}
				continue
			}
			m, from := norm.mean(s, n, p, 0, false)
			switch {
			case from.kind == "peers":
				s.value[n][p], src[n][p] = m*s.draw[n], from
			case pr.Prior > 0:
				s.value[n][p], src[n][p] = pr.Prior*s.draw[n], source{kind: "prior"}
			default:
				src[n][p] = from
			}
		}
	}
	return src
}

// describe explains the expected bytes of p at n for a person.
func (s *state) describe(src source, n, p int) string {
	alone := yamlconf.HumanBytes(s.value[n][p]) + "/day"
	var what string
	switch src.kind {
	case "measured":
		// value is the figure scaled up to no neighbours; say what was
		// measured, and below what the plan expects.
		what = "measured " + yamlconf.HumanBytes(src.measured) + "/day"
	case "peers":
		hosts := "hosts"
		if src.peers == 1 {
			hosts = "host"
		}
		what = fmt.Sprintf("%s, the mean of %d %s in %s", alone, src.peers, hosts, src.scope)
	case "prior":
		what = alone + " from the inventory's demand figure"
	default:
		return "no demand measured or given"
	}
	if d := s.draw[n]; src.kind != "measured" && (d < 0.95 || d > 1.05) {
		what += fmt.Sprintf(" (×%.2f: what this node serves against other hosts of its projects)", d)
	}
	if c := s.crowd[n][p]; c > 0.01 {
		what += fmt.Sprintf(", shared with nearby hosts (%s/day here)", yamlconf.HumanBytes(s.served(n, p)))
	}
	if capacity := s.nodes[n].Capacity; s.sum[n] > capacity {
		what += fmt.Sprintf("; the node's port is full (its projects ask %s/day of %s/day)",
			yamlconf.HumanBytes(s.sum[n]), yamlconf.HumanBytes(capacity))
	}
	return what
}

// describeNeighbours says what a change does to the other hosts of p
// nearby, in the planned placement: the part of a change's gain that is
// not n's own (a removal can gain when nearby hosts take its audience).
func (s *state) describeNeighbours(n, p int, added bool) string {
	hosts := 0
	for _, nb := range s.nbrs[n] {
		if s.host[p][nb.m] {
			hosts++
		}
	}
	if hosts == 0 {
		return ""
	}
	// What they would lose if n hosted p (again), as the plan stands.
	lose := -s.neighbourDelta(n, p, true)
	if added {
		lose = s.neighbourDelta(n, p, false)
	}
	if lose < 1e9 { // under 1 GB/day: not worth a word
		return ""
	}
	them := fmt.Sprintf("%d nearby hosts of it serve", hosts)
	if hosts == 1 {
		them = "the nearby host of it serves"
	}
	if added {
		return fmt.Sprintf("; %s %s/day less", them, yamlconf.HumanBytes(lose))
	}
	return fmt.Sprintf("; without it %s %s/day more", them, yamlconf.HumanBytes(lose))
}
