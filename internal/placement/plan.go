package placement

import (
	"fmt"
	"slices"
	"sort"

	"micromirror/internal/yamlconf"
)

// maxRounds bounds the improvement passes; each pass either changes
// something or ends the plan, and every change gains at least its cost.
const maxRounds = 1000

// planner holds one planning run.
type planner struct {
	s       *state
	par     Params
	reason  map[[2]int]string // (n, p) -> why it changed
	changes int
}

// Make plans the placement. Nodes and projects are taken in the order
// given, which makes plans repeatable; projects a node hosts that are not
// in projects are removed from auto nodes.
func Make(nodes []Node, projects []Project, d Demand, par Params) (*Plan, error) {
	projIndex := map[string]int{}
	for i, p := range projects {
		if _, dup := projIndex[p.Name]; dup {
			return nil, fmt.Errorf("project %s listed twice", p.Name)
		}
		projIndex[p.Name] = i
	}
	s := newState(nodes, projects, par)
	pl := &planner{s: s, par: par, reason: map[[2]int]string{}}
	initial := make([][]bool, len(nodes))
	for n, node := range nodes {
		initial[n] = make([]bool, len(projects))
		for _, name := range node.Current {
			if p, ok := projIndex[name]; ok {
				s.set(n, p, true)
				initial[n][p] = true
			}
		}
	}
	src := s.estimate(d, projIndex)
	plan := &Plan{Before: s.total()}
	for n, node := range nodes {
		for _, name := range node.Current {
			if _, ok := projIndex[name]; !ok && !node.Fixed {
				plan.Changes = append(plan.Changes, Change{Node: node.Name, Project: name, Reason: ReasonPortfolio,
					Estimate: "not among the fleet's projects"})
			}
		}
		pl.repair(n)
	}
	plan.Unmet = pl.minimums()
	sort.Strings(plan.Unmet)
	pl.improve()
	plan.After = s.total()
	plan.Placement = map[string][]string{}
	for n, node := range nodes {
		var names []string
		for p := range projects {
			if s.host[p][n] {
				names = append(names, projects[p].Name)
			}
			if s.host[p][n] == initial[n][p] {
				continue
			}
			c := Change{Node: node.Name, Project: projects[p].Name, Add: s.host[p][n], DiskUsed: s.used[n],
				Disk: node.Disk, Reason: pl.reason[[2]int{n, p}], Estimate: s.describe(src[n][p], n, p)}
			if c.Add {
				c.Gain = -s.delta(n, p, -1)
				plan.SyncBytes += projects[p].Size
			} else {
				c.Gain = -s.delta(n, -1, p)
			}
			c.Estimate += s.describeNeighbours(n, p, c.Add)
			plan.Changes = append(plan.Changes, c)
		}
		plan.Placement[node.Name] = names
	}
	sort.SliceStable(plan.Changes, func(i, j int) bool { return plan.Changes[i].Node < plan.Changes[j].Node })
	return plan, nil
}

// repair removes from an auto node what its disk cannot hold and what
// goes past the cap on projects, the projects it would miss least first.
func (pl *planner) repair(n int) {
	s := pl.s
	for !s.nodes[n].Fixed {
		reason := ReasonDisk
		if s.used[n] <= s.nodes[n].Disk {
			if pl.par.MaxProjects == 0 || s.hosting[n] <= pl.par.MaxProjects {
				return
			}
			reason = ReasonTooMany
		}
		best, bestLoss := -1, 0.0
		for _, p := range s.hosted(n) {
			if loss := -s.delta(n, p, -1); best < 0 || loss < bestLoss {
				best, bestLoss = p, loss
			}
		}
		pl.apply(n, best, -1, reason)
	}
}

// minimums puts every project on its minimum of nodes and continents,
// each time where it gains the fleet most; it returns what it could not.
func (pl *planner) minimums() []string {
	s := pl.s
	var unmet []string
	// Largest first: small projects fit in the gaps big ones leave.
	order := make([]int, len(s.projects))
	for p := range order {
		order[p] = p
	}
	sort.SliceStable(order, func(i, j int) bool { return s.projects[order[i]].Size > s.projects[order[j]].Size })
	for _, p := range order {
		pr := s.projects[p]
		for s.count[p] < pr.MinNodes {
			if !pl.placeOne(p, "", ReasonReplicas) {
				unmet = append(unmet, fmt.Sprintf("%s: on %d nodes, needs %d: no auto node with room", pr.Name, s.count[p], pr.MinNodes))
				break
			}
		}
		for s.continents(p) < pr.MinContinents {
			if !pl.placeOne(p, "other", ReasonContinents) {
				unmet = append(unmet, fmt.Sprintf("%s: on %d continents, needs %d: no auto node with room elsewhere", pr.Name, s.continents(p), pr.MinContinents))
				break
			}
		}
	}
	return unmet
}

// placeOne adds p to the auto node where it gains most (making room by
// dropping a project that can spare the node, if it must). With
// newContinent set, only nodes on continents p is not on yet qualify.
func (pl *planner) placeOne(p int, newContinent string, reason string) bool {
	s := pl.s
	type cand struct {
		n, drop int
		gain    float64
	}
	var best *cand
	better := func(c cand) bool {
		if best == nil {
			return true
		}
		if c.gain != best.gain {
			return c.gain > best.gain
		}
		if (c.drop < 0) != (best.drop < 0) {
			return c.drop < 0 // adding beats replacing
		}
		return s.nodes[c.n].Disk-s.used[c.n] > s.nodes[best.n].Disk-s.used[best.n]
	}
	for n, node := range s.nodes {
		if node.Fixed || s.host[p][n] || (newContinent != "" && (s.cont[n] == "" || s.contHost[p][s.cont[n]] > 0)) {
			continue
		}
		for _, drop := range append([]int{-1}, s.hosted(n)...) {
			if drop >= 0 && !s.removable(n, drop) || !s.fits(n, drop, p, pl.par.MaxProjects) {
				continue
			}
			if c := (cand{n, drop, s.delta(n, drop, p)}); better(c) {
				best = &c
			}
		}
	}
	if best == nil {
		return false
	}
	pl.apply(best.n, best.drop, p, reason)
	return true
}

// improve makes the best change while one pays for itself: each round
// finds every auto node's best change, then applies them best first,
// re-evaluated against the changes made before them. A change costs
// MinGain a day; a swap is two changes (a removal and an addition), so it
// must gain twice that.
func (pl *planner) improve() {
	s := pl.s
	for round := 0; round < maxRounds; round++ {
		type move struct {
			n     int
			score float64
		}
		var moves []move
		for n, node := range s.nodes {
			if node.Fixed {
				continue
			}
			if _, _, score := pl.bestMove(n); score >= 0 {
				moves = append(moves, move{n, score})
			}
		}
		if len(moves) == 0 {
			return
		}
		sort.SliceStable(moves, func(i, j int) bool { return moves[i].score > moves[j].score })
		for _, m := range moves {
			if pl.par.MaxChanges > 0 && pl.changes >= pl.par.MaxChanges {
				return
			}
			if drop, take, score := pl.bestMove(m.n); score >= 0 {
				pl.apply(m.n, drop, take, ReasonDemand)
			}
		}
	}
}

// bestMove is n's most gainful change net of its cost: taking a project
// that fits, or swapping one it can spare for one that fits in its place.
// score is the gain less the cost; below 0 the change does not pay.
func (pl *planner) bestMove(n int) (drop, take int, score float64) {
	s := pl.s
	cost := max(pl.par.MinGain, 1) // a change must gain something
	drop, take, score = -1, -1, -1
	hosted := s.hosted(n)
	// Each neighbour's share changes the same whatever else n does, so
	// work it out once per project.
	addNbr := make([]float64, len(s.projects))
	for p := range s.projects {
		if !s.host[p][n] {
			addNbr[p] = s.neighbourDelta(n, p, true)
		}
	}
	for _, q := range append([]int{-1}, hosted...) {
		if q >= 0 && !s.removable(n, q) {
			continue
		}
		sumAfterDrop, dropNbr, changes := s.sum[n], 0.0, 1.0
		if q >= 0 {
			sumAfterDrop -= s.served(n, q)
			dropNbr = s.neighbourDelta(n, q, false)
			changes = 2
		}
		for p := range s.projects {
			if s.host[p][n] || !s.fits(n, q, p, pl.par.MaxProjects) {
				continue
			}
			g := dropNbr + addNbr[p] + s.capped(n, sumAfterDrop+s.served(n, p)) - s.capped(n, s.sum[n])
			if sc := g - changes*cost; sc > score {
				drop, take, score = q, p, sc
			}
		}
	}
	return drop, take, score
}

// apply changes the placement and remembers why.
func (pl *planner) apply(n, drop, take int, reason string) {
	if drop >= 0 {
		pl.s.set(n, drop, false)
		pl.reason[[2]int{n, drop}] = reason
		pl.changes++
	}
	if take >= 0 {
		pl.s.set(n, take, true)
		pl.reason[[2]int{n, take}] = reason
		pl.changes++
	}
}

// hosted lists the projects n hosts.
func (s *state) hosted(n int) []int {
	var out []int
	for p := range s.projects {
		if s.host[p][n] {
			out = append(out, p)
		}
	}
	return out
}

// Summary is one line on the plan's effect for a person.
func (p *Plan) Summary() string {
	adds, removes := 0, 0
	for _, c := range p.Changes {
		if c.Add {
			adds++
		} else {
			removes++
		}
	}
	pct := 0.0
	if p.Before > 0 {
		pct = (p.After - p.Before) / p.Before * 100
	}
	return fmt.Sprintf("expected %s/day served now, %s/day after the plan (%+.1f%%); %d additions (%s of first syncs), %d removals",
		yamlconf.HumanBytes(p.Before), yamlconf.HumanBytes(p.After), pct, adds, yamlconf.HumanBytes(float64(p.SyncBytes)), removes)
}

// Hosts says whether the plan has node hosting project.
func (p *Plan) Hosts(node, project string) bool { return slices.Contains(p.Placement[node], project) }
