package placement

import (
	"math"

	"micromirror/internal/geo"
)

// neighbour is another node close enough to share audiences, with the
// share w it takes of a project both host.
type neighbour struct {
	m int
	w float64
}

// minWeight drops neighbours too far away to matter; it bounds the work
// per evaluated change.
const minWeight = 0.005

// state is a placement with the running figures that make evaluating a
// change cheap. Only the planner's goroutine touches it.
type state struct {
	nodes    []Node
	projects []Project
	cont     []string      // continent per node, "" unknown
	nbrs     [][]neighbour // per node
	value    [][]float64   // [n][p] bytes/day n would serve of p alone
	draw     []float64     // [n] how much n serves against its peers (1: as much)
	host     [][]bool      // [p][n]
	crowd    [][]float64   // [n][p] sum of pull over n's neighbours hosting p
	sum      []float64     // [n] bytes/day over its projects, before the port's cap
	used     []int64       // [n] disk its projects fill
	hosting  []int         // [n] projects it hosts
	count    []int         // [p] hosts
	contHost []map[string]int
}

func newState(nodes []Node, projects []Project, p Params) *state {
	s := &state{nodes: nodes, projects: projects, cont: make([]string, len(nodes)),
		nbrs: make([][]neighbour, len(nodes)), value: make([][]float64, len(nodes)),
		host: make([][]bool, len(projects)), crowd: make([][]float64, len(nodes)),
		sum: make([]float64, len(nodes)), used: make([]int64, len(nodes)), hosting: make([]int, len(nodes)),
		count: make([]int, len(projects)), contHost: make([]map[string]int, len(projects))}
	for i := range nodes {
		s.cont[i], _ = geo.Continent(nodes[i].Country)
		s.value[i] = make([]float64, len(projects))
		s.crowd[i] = make([]float64, len(projects))
	}
	for j := range projects {
		s.host[j] = make([]bool, len(nodes))
		s.contHost[j] = map[string]int{}
	}
	for i := range nodes {
		for k := i + 1; k < len(nodes); k++ {
			if w := weight(nodes[i], nodes[k], p); w >= minWeight {
				s.nbrs[i] = append(s.nbrs[i], neighbour{k, w})
				s.nbrs[k] = append(s.nbrs[k], neighbour{i, w})
			}
		}
	}
	return s
}

// weight is the share of a project's audience two hosts compete for: the
// overlap within a country, fading with distance across borders.
func weight(a, b Node, p Params) float64 {
	if p.Overlap == 0 {
		return 0
	}
	if a.Country != "" && a.Country == b.Country {
		return p.Overlap
	}
	if !a.HasPoint || !b.HasPoint || p.RadiusKM <= 0 {
		return 0
	}
	return p.Overlap * math.Exp(-geo.DistanceKM(a.Point, b.Point)/p.RadiusKM)
}

// pull is the share of n's audience for p that a host m nearby at weight
// w takes: all of w when m is at least as strong as n, in proportion
// when weaker. Were every neighbour to take w, a weak host among strong
// ones would cost them more audience than it serves itself, and the plan
// would drop useful hosts to "gain" bytes.
func (s *state) pull(n, m, p int, w float64) float64 {
	vn, vm := s.value[n][p], s.value[m][p]
	if vn <= 0 || vm >= vn {
		return w
	}
	return w * vm / vn
}

// recount works out every crowd and sum afresh (after values changed).
func (s *state) recount() {
	for n := range s.nodes {
		clear(s.crowd[n])
	}
	for p := range s.projects {
		for n := range s.nodes {
			if s.host[p][n] {
				for _, nb := range s.nbrs[n] {
					s.crowd[nb.m][p] += s.pull(nb.m, n, p, nb.w)
				}
			}
		}
	}
	for n := range s.nodes {
		s.sum[n] = 0
		for p := range s.projects {
			if s.host[p][n] {
				s.sum[n] += s.served(n, p)
			}
		}
	}
}

// served is what n serves of p given its neighbours (n hosting p or not).
func (s *state) served(n, p int) float64 { return s.value[n][p] / (1 + s.crowd[n][p]) }

// capped is what a node serves when its projects add up to sum.
func (s *state) capped(n int, sum float64) float64 { return math.Min(s.nodes[n].Capacity, sum) }

// total is the fleet's expected bytes per day.
func (s *state) total() float64 {
	t := 0.0
	for n := range s.nodes {
		t += s.capped(n, s.sum[n])
	}
	return t
}

// set adds (on) or removes p at n and updates every running figure.
func (s *state) set(n, p int, on bool) {
	if s.host[p][n] == on {
		return
	}
	sign := 1.0
	if !on {
		sign = -1
		s.sum[n] -= s.served(n, p)
		s.used[n] -= s.projects[p].Size
		s.hosting[n]--
		s.count[p]--
		s.contHost[p][s.cont[n]]--
	}
	for _, nb := range s.nbrs[n] {
		if s.host[p][nb.m] {
			s.sum[nb.m] -= s.served(nb.m, p)
		}
		s.crowd[nb.m][p] += sign * s.pull(nb.m, n, p, nb.w)
		if s.host[p][nb.m] {
			s.sum[nb.m] += s.served(nb.m, p)
		}
	}
	s.host[p][n] = on
	if on {
		s.sum[n] += s.served(n, p)
		s.used[n] += s.projects[p].Size
		s.hosting[n]++
		s.count[p]++
		s.contHost[p][s.cont[n]]++
	}
}

// neighbourDelta is what n's neighbours gain (remove) or lose (add) when n
// starts or stops hosting p.
func (s *state) neighbourDelta(n, p int, add bool) float64 {
	d := 0.0
	for _, nb := range s.nbrs[n] {
		m := nb.m
		if !s.host[p][m] {
			continue
		}
		w := s.pull(m, n, p, nb.w)
		if !add {
			w = -w
		}
		old := s.served(m, p)
		now := s.value[m][p] / (1 + s.crowd[m][p] + w)
		d += s.capped(m, s.sum[m]-old+now) - s.capped(m, s.sum[m])
	}
	return d
}

// delta is the fleet's gain from n dropping drop (-1: none) and taking
// take (-1: none).
func (s *state) delta(n, drop, take int) float64 {
	sum := s.sum[n]
	d := 0.0
	if drop >= 0 {
		sum -= s.served(n, drop)
		d += s.neighbourDelta(n, drop, false)
	}
	if take >= 0 {
		sum += s.served(n, take)
		d += s.neighbourDelta(n, take, true)
	}
	return d + s.capped(n, sum) - s.capped(n, s.sum[n])
}

// fits says whether n's disk holds its projects after the change, and
// whether it would host no more than max projects (0: any number).
func (s *state) fits(n, drop, take, max int) bool {
	if max > 0 && drop < 0 && take >= 0 && s.hosting[n] >= max {
		return false
	}
	used := s.used[n]
	if drop >= 0 {
		used -= s.projects[drop].Size
	}
	if take >= 0 {
		used += s.projects[take].Size
	}
	return used <= s.nodes[n].Disk
}

// continents is how many continents p's hosts span.
func (s *state) continents(p int) int {
	c := 0
	for cont, k := range s.contHost[p] {
		if k > 0 && cont != "" {
			c++
		}
	}
	return c
}

// removable says whether n may stop hosting p without breaking p's
// minimum of nodes or continents.
func (s *state) removable(n, p int) bool {
	pr := s.projects[p]
	if s.count[p]-1 < pr.MinNodes {
		return false
	}
	if s.cont[n] != "" && s.contHost[p][s.cont[n]] == 1 && s.continents(p)-1 < pr.MinContinents {
		return false
	}
	return true
}
