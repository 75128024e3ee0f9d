package placement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"micromirror/internal/geo"
)

const gb = 1e9

func node(name, country string, lat, lon float64, diskGB float64, current ...string) Node {
	return Node{Name: name, Country: country, Point: geo.Point{Lat: lat, Lon: lon}, HasPoint: true,
		Disk: int64(diskGB * gb), Capacity: 8.64e12, Current: current}
}

var params = Params{MinGain: 10 * gb, Overlap: 0.2, RadiusKM: 500}

func TestReplicasAndDiskAndFixedNodes(t *testing.T) {
	nodes := []Node{
		node("a", "US", 47.6, -122.3, 1000, "debian"),
		node("b", "US", 37.7, -122.4, 1000),
		node("c", "DE", 50.1, 8.7, 500),
		node("fixed", "DE", 52.5, 13.4, 5000, "debian"),
	}
	nodes[3].Fixed = true
	projects := []Project{
		{Name: "debian", Size: 400 * gb, MinNodes: 3},
		{Name: "fedora", Size: 900 * gb, MinNodes: 1},
		{Name: "gimp", Size: 50 * gb, MinNodes: 2, MinContinents: 2},
	}
	plan, err := Make(nodes, projects, nil, params)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, n := range nodes {
		used := int64(0)
		for _, p := range plan.Placement[n.Name] {
			count[p]++
			used += projects[slices.IndexFunc(projects, func(x Project) bool { return x.Name == p })].Size
		}
		if used > n.Disk {
			t.Errorf("%s: %d bytes placed on a %d disk", n.Name, used, n.Disk)
		}
	}
	if count["debian"] < 3 || count["fedora"] < 1 || count["gimp"] < 2 {
		t.Errorf("replicas %v; placement %v", count, plan.Placement)
	}
	if !slices.Equal(plan.Placement["fixed"], []string{"debian"}) {
		t.Errorf("the fixed node changed: %v", plan.Placement["fixed"])
	}
	gimpConts := map[string]bool{}
	for _, n := range nodes {
		if plan.Hosts(n.Name, "gimp") {
			c, _ := geo.Continent(n.Country)
			gimpConts[c] = true
		}
	}
	if len(gimpConts) < 2 {
		t.Errorf("gimp on continents %v", gimpConts)
	}
	if len(plan.Unmet) != 0 {
		t.Errorf("unmet: %v", plan.Unmet)
	}
	for _, c := range plan.Changes {
		if c.Reason != ReasonReplicas && c.Reason != ReasonContinents {
			t.Errorf("change %+v without demand data", c)
		}
	}
}

func TestUnmetMinimumsAreReported(t *testing.T) {
	nodes := []Node{node("a", "US", 47.6, -122.3, 100), node("b", "US", 37.7, -122.4, 100)}
	plan, _ := Make(nodes, []Project{{Name: "fedora", Size: 900 * gb, MinNodes: 2}}, nil, params)
	if len(plan.Unmet) != 1 || !strings.Contains(plan.Unmet[0], "fedora: on 0 nodes, needs 2") {
		t.Errorf("unmet %v", plan.Unmet)
	}
}

// TestDemandFromPeers: a new node takes what its country's hosts serve
// most, and the change says why and how much.
func TestDemandFromPeers(t *testing.T) {
	nodes := []Node{
		node("sea", "US", 47.6, -122.3, 2000, "debian", "archlinux"),
		node("nyc", "US", 40.7, -74.0, 2000, "debian", "gimp"),
		node("new", "US", 39.0, -77.5, 1000),
	}
	projects := []Project{{Name: "debian", Size: 400 * gb}, {Name: "archlinux", Size: 120 * gb}, {Name: "gimp", Size: 50 * gb}}
	nodes[0].Fixed, nodes[1].Fixed = true, true
	d := Demand{
		"sea": {"debian": 2000 * gb, "archlinux": 500 * gb},
		"nyc": {"debian": 1800 * gb, "gimp": 30 * gb},
	}
	plan, err := Make(nodes, projects, d, Params{MinGain: 50 * gb, Overlap: 0.2, RadiusKM: 500})
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Hosts("new", "debian") || !plan.Hosts("new", "archlinux") {
		t.Fatalf("new node got %v", plan.Placement["new"])
	}
	if plan.Hosts("new", "gimp") {
		t.Errorf("gimp (30 GB/day, below min gain once shared) placed: %v", plan.Placement["new"])
	}
	var deb Change
	for _, c := range plan.Changes {
		if c.Node == "new" && c.Project == "debian" {
			deb = c
		}
	}
	if deb.Reason != ReasonDemand || deb.Gain < 500*gb || !strings.Contains(deb.Estimate, "the mean of 2 hosts in US") || deb.DiskUsed != 520*gb {
		t.Errorf("debian change: %+v", deb)
	}
	if plan.After <= plan.Before || plan.SyncBytes != 520*gb {
		t.Errorf("before %.0f after %.0f sync %d", plan.Before, plan.After, plan.SyncBytes)
	}
	if !strings.Contains(plan.Summary(), "2 additions (520 GB of first syncs), 0 removals") {
		t.Errorf("summary %q", plan.Summary())
	}
}

// TestSwapForBetterProject: a full node trades a little-used project for a
// much-demanded one, if the project it drops keeps its minimum elsewhere.
func TestSwapForBetterProject(t *testing.T) {
	nodes := []Node{
		node("a", "DE", 50.1, 8.7, 500, "gimp"),
		node("b", "DE", 52.5, 13.4, 1000, "gimp", "archlinux"),
		node("c", "FR", 48.9, 2.3, 500, "archlinux"),
	}
	projects := []Project{{Name: "archlinux", Size: 400 * gb, MinNodes: 1}, {Name: "gimp", Size: 150 * gb, MinNodes: 1}}
	d := Demand{"a": {"gimp": 5 * gb}, "b": {"gimp": 5 * gb, "archlinux": 900 * gb}, "c": {"archlinux": 800 * gb}}
	plan, _ := Make(nodes, projects, d, params)
	if !plan.Hosts("a", "archlinux") {
		t.Fatalf("a did not take archlinux: %v", plan.Placement)
	}
	if plan.Hosts("a", "gimp") && plan.Hosts("b", "gimp") {
		t.Errorf("a kept gimp although archlinux does not fit beside it: %v", plan.Placement)
	}
}

// TestMinGainKeepsPlacement: changes that gain less than MinGain are not
// suggested: a running fleet is not churned for small gains.
func TestMinGainKeepsPlacement(t *testing.T) {
	nodes := []Node{node("a", "US", 47.6, -122.3, 2000, "debian"), node("b", "US", 40.7, -74.0, 2000, "archlinux")}
	projects := []Project{{Name: "debian", Size: 400 * gb}, {Name: "archlinux", Size: 120 * gb}}
	d := Demand{"a": {"debian": 100 * gb}, "b": {"archlinux": 100 * gb}}
	plan, _ := Make(nodes, projects, d, Params{MinGain: 1000 * gb, Overlap: 0.2, RadiusKM: 500})
	if len(plan.Changes) != 0 {
		t.Errorf("changes %+v", plan.Changes)
	}
	plan, _ = Make(nodes, projects, d, params)
	if len(plan.Changes) != 2 {
		t.Errorf("with a low min gain each node should take the other's project: %+v", plan.Changes)
	}
	plan, _ = Make(nodes, projects, d, Params{MinGain: 10 * gb, Overlap: 0.2, RadiusKM: 500, MaxChanges: 1})
	if len(plan.Changes) != 1 {
		t.Errorf("max changes 1: %+v", plan.Changes)
	}
}

// TestSaturatedNodeTakesNothing: a node already serving its port's worth
// gains nothing from another project.
func TestSaturatedNodeTakesNothing(t *testing.T) {
	nodes := []Node{node("busy", "US", 47.6, -122.3, 2000, "debian"), node("other", "JP", 35.7, 139.7, 2000, "fedora")}
	nodes[0].Capacity = 1000 * gb
	projects := []Project{{Name: "debian", Size: 400 * gb}, {Name: "fedora", Size: 400 * gb}}
	d := Demand{"busy": {"debian": 1000 * gb}, "other": {"fedora": 3000 * gb}}
	plan, _ := Make(nodes, projects, d, params)
	if plan.Hosts("busy", "fedora") {
		t.Errorf("the saturated node took fedora: %+v", plan.Changes)
	}
}

// TestCrowdingSpreadsProjects: of two equally demanded projects, a node
// takes the one fewer hosts nearby already serve.
func TestCrowdingSpreadsProjects(t *testing.T) {
	nodes := []Node{
		node("a1", "DE", 50.1, 8.7, 500, "debian"), node("a2", "DE", 52.5, 13.4, 500, "debian"),
		node("a3", "DE", 48.1, 11.6, 500, "debian"), node("b", "FR", 48.9, 2.3, 500, "ubuntu"),
		node("new", "DE", 53.6, 10.0, 450),
	}
	projects := []Project{{Name: "debian", Size: 400 * gb}, {Name: "ubuntu", Size: 400 * gb}}
	d := Demand{"a1": {"debian": 1000 * gb}, "a2": {"debian": 1000 * gb}, "a3": {"debian": 1000 * gb}, "b": {"ubuntu": 700 * gb}}
	plan, _ := Make(nodes, projects, d, params)
	if !plan.Hosts("new", "ubuntu") {
		t.Errorf("new node took %v; want ubuntu (debian already has 3 hosts in DE)", plan.Placement["new"])
	}
}

// TestRunningFiguresMatchRecount: the incremental bookkeeping equals a
// recount from scratch after many random changes.
func TestRunningFiguresMatchRecount(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nodes, projects, _ := synthetic(60, 12, r)
	s := newState(nodes, projects, params)
	for i := range nodes {
		for p := range projects {
			s.value[i][p] = float64(r.IntN(1000)) * gb
		}
	}
	for step := 0; step < 5000; step++ {
		s.set(r.IntN(len(nodes)), r.IntN(len(projects)), r.IntN(2) == 0)
	}
	fresh := newState(nodes, projects, params)
	fresh.value = s.value
	for n := range nodes {
		for p := range projects {
			if s.host[p][n] {
				fresh.set(n, p, true)
			}
		}
	}
	for n := range nodes {
		if math.Abs(s.sum[n]-fresh.sum[n]) > 1e-3*math.Max(1, fresh.sum[n]) || s.used[n] != fresh.used[n] {
			t.Fatalf("node %d: sum %.0f vs %.0f, used %d vs %d", n, s.sum[n], fresh.sum[n], s.used[n], fresh.used[n])
		}
	}
	// delta predicts the total after a change.
	for step := 0; step < 200; step++ {
		n, p := r.IntN(len(nodes)), r.IntN(len(projects))
		before := s.total()
		var d float64
		if s.host[p][n] {
			d = s.delta(n, p, -1)
		} else {
			d = s.delta(n, -1, p)
		}
		s.set(n, p, !s.host[p][n])
		if got := s.total() - before; math.Abs(got-d) > 1e-3*math.Max(1, math.Abs(d)) {
			t.Fatalf("delta %.0f, total moved %.0f", d, got)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := planOf(t, 7), planOf(t, 7)
	if a.After != b.After || len(a.Changes) != len(b.Changes) {
		t.Fatalf("two runs differ: %.0f/%d vs %.0f/%d", a.After, len(a.Changes), b.After, len(b.Changes))
	}
	for i := range a.Changes {
		if a.Changes[i] != b.Changes[i] {
			t.Fatalf("change %d: %+v vs %+v", i, a.Changes[i], b.Changes[i])
		}
	}
}

func planOf(t *testing.T, seed uint64) *Plan {
	r := rand.New(rand.NewPCG(seed, seed))
	nodes, projects, d := synthetic(200, 20, r)
	p, err := Make(nodes, projects, d, params)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMaxProjects: an auto node hosts at most MaxProjects; one over it
// drops the project it would miss least.
func TestMaxProjects(t *testing.T) {
	nodes := []Node{node("full", "US", 47.6, -122.3, 4000, "a", "b", "c", "d"), node("new", "DE", 50.1, 8.7, 4000)}
	var projects []Project
	d := Demand{"full": {}}
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		projects = append(projects, Project{Name: name, Size: 10 * gb})
		d["full"][name] = float64(100*(i+1)) * gb
	}
	plan, _ := Make(nodes, projects, d, Params{MinGain: 10 * gb, Overlap: 0.2, RadiusKM: 500, MaxProjects: 3})
	if got := strings.Join(plan.Placement["full"], " "); got != "b c d" {
		t.Errorf("full node keeps %q, want b c d", got)
	}
	if len(plan.Placement["new"]) != 3 {
		t.Errorf("new node got %v", plan.Placement["new"])
	}
	var dropped Change
	for _, c := range plan.Changes {
		if c.Node == "full" && !c.Add {
			dropped = c
		}
	}
	if dropped.Project != "a" || dropped.Reason != ReasonTooMany {
		t.Errorf("dropped %+v", dropped)
	}
}

// TestExplanations: a change's explanation gives the figure measured (not
// the one scaled up to no neighbours) and what it does to nearby hosts.
func TestExplanations(t *testing.T) {
	nodes := []Node{node("a", "DE", 50.1, 8.7, 500, "debian"), node("b", "DE", 52.5, 13.4, 500, "debian")}
	projects := []Project{{Name: "debian", Size: 400 * gb}}
	d := Demand{"a": {"debian": 500 * gb}, "b": {"debian": 800 * gb}}
	s := newState(nodes, projects, params)
	s.set(0, 0, true)
	s.set(1, 0, true)
	src := s.estimate(d, map[string]int{"debian": 0})
	if got := s.describe(src[0][0], 0, 0); !strings.HasPrefix(got, "measured 500 GB/day") {
		t.Errorf("describe: %q", got)
	}
	// a, weaker, takes from b 0.2 × 600/906 of its audience: b would serve
	// 906 GB alone, 800 GB with a beside it.
	want := "; the nearby host of it serves 106 GB/day less"
	if got := s.describeNeighbours(0, 0, true); got != want {
		t.Errorf("addition: %q, want %q", got, want)
	}
	s.set(0, 0, false)
	if got := s.describeNeighbours(0, 0, false); got != "; without it the nearby host of it serves 106 GB/day more" {
		t.Errorf("removal: %q", got)
	}
}

// TestAWeakerHostKeepsItsAudience: a node serving a project less than
// its strong neighbours do is not made to drop it for a small project:
// its neighbours would take back no more audience than it serves. (When
// every neighbour took an equal share of every other, the model had them
// gain more than it lost, and the plan swapped it out.)
func TestAWeakerHostKeepsItsAudience(t *testing.T) {
	var nodes []Node
	d := Demand{}
	for i := range 8 {
		name := fmt.Sprint("strong", i)
		nodes = append(nodes, node(name, "DE", 48+float64(i)*0.7, 7+float64(i), 1000, "debian"))
		d[name] = map[string]float64{"debian": 2000 * gb}
	}
	nodes = append(nodes, node("weak", "DE", 51, 10, 450, "debian"))
	d["weak"] = map[string]float64{"debian": 300 * gb}
	for i := range nodes {
		nodes[i].Fixed = i < 8
	}
	projects := []Project{{Name: "debian", Size: 400 * gb}, {Name: "gimp", Size: 100 * gb, Prior: 60 * gb}}
	plan, err := Make(nodes, projects, d, params)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Hosts("weak", "debian") {
		t.Errorf("the weaker host dropped debian: %+v", plan.Changes)
	}
}

// TestMeasuredHostsKeepTheirFigures: in today's placement, a host that
// measured a project is expected to serve what it measured.
func TestMeasuredHostsKeepTheirFigures(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	nodes, projects, d := synthetic(300, 20, r)
	for i := range nodes {
		nodes[i].Capacity = math.Inf(1)
	}
	s, projIndex := estimated(nodes, projects, d, params)
	worst := 0.0
	for n, node := range nodes {
		for name, measured := range d[node.Name] {
			if measured > 0 {
				worst = max(worst, math.Abs(s.served(n, projIndex[name])/measured-1))
			}
		}
	}
	if worst > 0.01 {
		t.Errorf("a measured host's expected bytes are off its measurement by %.1f%%", worst*100)
	}
}
