package placement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"micromirror/internal/geo"
)

// countries where a synthetic fleet's nodes are, with their share and a
// centre to scatter around.
var countries = []struct {
	cc       string
	share    float64
	lat, lon float64
}{
	{"US", 0.32, 39, -98}, {"CA", 0.04, 45, -75}, {"BR", 0.04, -23, -46}, {"DE", 0.10, 51, 10},
	{"FR", 0.06, 47, 2}, {"GB", 0.06, 52, -1}, {"NL", 0.04, 52, 5}, {"SE", 0.03, 59, 18},
	{"PL", 0.03, 52, 20}, {"JP", 0.06, 36, 139}, {"IN", 0.05, 21, 78}, {"SG", 0.03, 1.3, 103.8},
	{"AU", 0.05, -33, 151}, {"ZA", 0.03, -26, 28}, {"KR", 0.03, 37, 127}, {"MX", 0.03, 19, -99},
}

// synthetic builds a fleet of n nodes and p projects: disks of 1 to 4 TB,
// 1 Gbit/s ports, projects of 50 GB to 1.5 TB with Zipf-like popularity,
// 70% of the nodes already hosting a random set that fits (the others
// new), and the demand those hosts measured under the model plus noise.
func synthetic(n, p int, r *rand.Rand) ([]Node, []Project, Demand) {
	projects := make([]Project, p)
	pop := make([]float64, p)
	for j := range projects {
		projects[j] = Project{Name: fmt.Sprintf("project%02d", j), Size: int64(50+r.IntN(1450)) * 1e9, MinNodes: 2}
		pop[j] = 3e12 / math.Pow(float64(j+1), 0.9) // the top project would fill a port alone
	}
	nodes := make([]Node, n)
	for i := range nodes {
		x, acc := r.Float64(), 0.0
		c := countries[len(countries)-1]
		for _, cand := range countries {
			if acc += cand.share; x < acc {
				c = cand
				break
			}
		}
		nodes[i] = Node{Name: fmt.Sprintf("node%04d", i), Country: c.cc, HasPoint: true,
			Point: geo.Point{Lat: c.lat + r.NormFloat64()*3, Lon: c.lon + r.NormFloat64()*5},
			Disk:  int64(1+r.IntN(4)) * 1e12 * 9 / 10, Capacity: 1e9 / 8 * 86400 * 0.8}
		if r.Float64() < 0.7 {
			var used int64
			for _, j := range r.Perm(p) {
				if used+projects[j].Size <= nodes[i].Disk && len(nodes[i].Current) < 5 {
					nodes[i].Current = append(nodes[i].Current, projects[j].Name)
					used += projects[j].Size
				}
			}
		}
	}
	// Measured demand: the model's own figures with ±30% noise and a
	// per-node draw (bigger or smaller sponsor networks).
	s := newState(nodes, projects, params)
	for i := range nodes {
		for j := range projects {
			s.value[i][j] = pop[j] * (0.5 + r.Float64())
		}
		for _, name := range nodes[i].Current {
			s.set(i, indexOf(projects, name), true)
		}
	}
	d := Demand{}
	for i := range nodes {
		for _, name := range nodes[i].Current {
			j := indexOf(projects, name)
			if d[nodes[i].Name] == nil {
				d[nodes[i].Name] = map[string]float64{}
			}
			d[nodes[i].Name][name] = s.served(i, j) * (0.7 + 0.6*r.Float64())
		}
	}
	return nodes, projects, d
}

func indexOf(projects []Project, name string) int {
	for j, p := range projects {
		if p.Name == name {
			return j
		}
	}
	return -1
}

// popularityPlacement is how an operator places by hand: every node keeps
// what it has, and new nodes take the most popular projects (by fleet-wide
// bytes per host) that fit their disk.
func popularityPlacement(nodes []Node, projects []Project, d Demand) map[string][]string {
	perHost := map[string]float64{}
	hosts := map[string]int{}
	for _, m := range d {
		for p, b := range m {
			perHost[p] += b
			hosts[p]++
		}
	}
	order := make([]Project, len(projects))
	copy(order, projects)
	sort.SliceStable(order, func(i, j int) bool {
		return perHost[order[i].Name]/float64(max(1, hosts[order[i].Name])) > perHost[order[j].Name]/float64(max(1, hosts[order[j].Name]))
	})
	out := map[string][]string{}
	for _, n := range nodes {
		out[n.Name] = n.Current
		if len(n.Current) > 0 {
			continue
		}
		var used int64
		for _, p := range order {
			if used+p.Size <= n.Disk && len(out[n.Name]) < 6 {
				out[n.Name] = append(out[n.Name], p.Name)
				used += p.Size
			}
		}
	}
	return out
}

// evaluate is the fleet's expected bytes per day under a placement, with
// the values the measured demand gives in the current placement (the one
// it was measured in).
func evaluate(nodes []Node, projects []Project, d Demand, params Params, placement map[string][]string) float64 {
	s, idx := estimated(nodes, projects, d, params)
	for i, n := range nodes {
		for j := range projects {
			s.set(i, j, false)
		}
		for _, name := range placement[n.Name] {
			s.set(i, idx[name], true)
		}
	}
	return s.total()
}

// BenchmarkPlan1000x40 plans a 1,000-node, 40-project fleet and reports
// the expected bytes served against the placement an operator would make
// by hand (popularity order), both measured with the same demand model.
func BenchmarkPlan1000x40(b *testing.B) {
	params := Params{MinGain: 50e9, Overlap: 0.2, RadiusKM: 500} // fleet.yaml's defaults
	r := rand.New(rand.NewPCG(42, 42))
	nodes, projects, d := synthetic(1000, 40, r)
	var plan *Plan
	for b.Loop() {
		var err error
		if plan, err = Make(nodes, projects, d, params); err != nil {
			b.Fatal(err)
		}
	}
	byHand := evaluate(nodes, projects, d, params, popularityPlacement(nodes, projects, d))
	if planned := evaluate(nodes, projects, d, params, plan.Placement); math.Abs(planned-plan.After) > 1e-6*planned {
		b.Fatalf("the plan's own figure %.0f differs from its evaluation %.0f", plan.After, planned)
	}
	adds := 0
	for _, c := range plan.Changes {
		if c.Add {
			adds++
		}
	}
	b.ReportMetric(plan.Before/1e12, "TB/day-now")
	b.ReportMetric(plan.After/1e12, "TB/day-planned")
	b.ReportMetric(byHand/1e12, "TB/day-by-popularity")
	b.ReportMetric(plan.After/byHand, "planned/popularity")
	b.ReportMetric(float64(adds), "additions")
	b.ReportMetric(float64(len(plan.Changes)-adds), "removals")
}

// estimated is the state of the current placement, valued by the demand;
// idx maps project names to indexes.
func estimated(nodes []Node, projects []Project, d Demand, params Params) (s *state, idx map[string]int) {
	idx = map[string]int{}
	for j, p := range projects {
		idx[p.Name] = j
	}
	s = newState(nodes, projects, params)
	for i, n := range nodes {
		for _, name := range n.Current {
			s.set(i, idx[name], true)
		}
	}
	s.estimate(d, idx)
	return s, idx
}
