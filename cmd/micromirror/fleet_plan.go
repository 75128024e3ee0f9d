package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"micromirror/internal/atomicfile"
	"micromirror/internal/geo"
	"micromirror/internal/inventory"
	"micromirror/internal/placement"
	"micromirror/internal/yamlconf"
)

const fleetPlanUsage = `Usage: micromirror fleet plan [-inventory fleet.yaml] [-demand FILE.csv] [-apply]

Suggests which projects each node with projects: auto should host, to
serve the most bytes: within each node's disk (less the headroom) and port,
with every project on its minimum of nodes and continents, preferring few
changes (each must gain plan.min_gain a day). Nodes with an explicit
project list are counted, never changed. Demand is the watchtower's
/api/v1/demand over plan.days, or a CSV (-demand) with a header naming
day,node,project,requests,bytes; rows without a node are per-host figures
for projects no node serves yet. Each change is explained: the bytes a day
it is expected to gain, where that figure comes from, and the disk used.

-apply writes the new placement of the auto nodes into the inventory
(only their placement: lines change). See docs/fleet.md for the model.

Flags:
`

func (m *Main) runFleetPlan(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var ff fleetFlags
	fs := newFlagSet("plan", fleetPlanUsage, stderr)
	ff.register(fs, true, false)
	demandFile := fs.String("demand", "", "demand CSV instead of the watchtower's")
	apply := fs.Bool("apply", false, "write the planned placement into the inventory")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	maxChanges := fs.Int("max-changes", 0, "at most this many changes (0: no limit)")
	f, code, done := ff.parse(fs, args, stderr)
	if done {
		return code
	}
	sizes := ff.sizes(ctx, f, stderr)
	demand, priors, from, err := ff.demand(ctx, f, *demandFile)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet plan: %v\n", err)
		return 1
	}
	nodes, projects := planInputs(f, sizes, priors)
	par := placement.Params{MinGain: float64(f.Plan.MinGain.Int()), Overlap: f.Plan.Overlap, RadiusKM: f.Plan.RadiusKM,
		MaxChanges: *maxChanges, MaxProjects: f.Plan.MaxProjects}
	plan, err := placement.Make(nodes, projects, demand, par)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet plan: %v\n", err)
		return 1
	}
	if *asJSON {
		printJSON(stdout, map[string]any{"version": 1, "plan": plan})
	} else {
		fmt.Fprintf(stdout, "%s: %s, %d projects; demand from %s; sizes: %s\n\n", ff.inventory, nodeCounts(f), len(f.Projects), from, sizeSources(sizes))
		printPlan(stdout, f, plan)
	}
	if !*apply {
		if len(plan.Changes) > 0 && !*asJSON {
			fmt.Fprintf(stdout, "\nmicromirror fleet plan -apply writes this placement into %s; then fleet render.\n", ff.inventory)
		}
		return 0
	}
	auto := map[string][]string{}
	for _, n := range f.Live() {
		if n.Projects.Auto {
			auto[n.Name] = plan.Placement[n.Name]
		}
	}
	out, err := f.WithPlacement(auto)
	if err == nil {
		fi, statErr := os.Stat(ff.inventory)
		mode := os.FileMode(0o644)
		if statErr == nil {
			mode = fi.Mode().Perm()
		}
		err = atomicfile.Write(ff.inventory, out, mode)
	}
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet plan: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote the placement of %d auto nodes into %s\n", len(auto), ff.inventory)
	return 0
}

// demand reads the CSV, or asks the watchtower for the last plan.days
// whole days; from says which.
func (ff *fleetFlags) demand(ctx context.Context, f *inventory.Fleet, csvPath string) (placement.Demand, map[string]float64, string, error) {
	priors := map[string]float64{}
	for name, p := range f.Projects {
		if p.Demand.Int() > 0 {
			priors[name] = float64(p.Demand.Int())
		}
	}
	if csvPath != "" {
		fh, err := os.Open(csvPath)
		if err != nil {
			return nil, nil, "", err
		}
		defer fh.Close()
		d, csvPriors, err := placement.ReadCSV(csvPath, fh)
		for name, v := range csvPriors {
			if _, set := priors[name]; !set {
				priors[name] = v
			}
		}
		return d, priors, csvPath, err
	}
	c, err := ff.client(f)
	if err != nil || c == nil {
		return placement.Demand{}, priors, "nowhere (no watchtower, no -demand: minimums only)", err
	}
	to := time.Now().UTC().Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -f.Plan.Days)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rows, err := c.Demand(ctx, from, to)
	if err != nil {
		return nil, nil, "", err
	}
	conv := make([]placement.Row, len(rows))
	for i, r := range rows {
		conv[i] = placement.Row{Day: r.Day, Node: r.Node, Project: r.Project, Bytes: float64(r.Bytes)}
	}
	return placement.FromRows(conv), priors, fmt.Sprintf("the watchtower, %d days (%d rows)", f.Plan.Days, len(rows)), nil
}

// planInputs turns the inventory into the planner's nodes and projects:
// every node that is not retired, with its usable disk and the bytes a
// day its port carries at plan.utilisation_percent.
func planInputs(f *inventory.Fleet, sizes map[string]inventory.Size, priors map[string]float64) ([]placement.Node, []placement.Project) {
	var nodes []placement.Node
	for _, n := range f.Live() {
		pn := placement.Node{Name: n.Name, Country: n.Location.Country, Disk: f.UsableDisk(n),
			Capacity: float64(n.NIC.BitsPerSecond()) / 8 * 86400 * f.Plan.UtilisationPercent / 100,
			Fixed:    !n.Projects.Auto, Current: n.Hosted()}
		if n.Location.Lat != nil {
			pn.Point, pn.HasPoint = geo.Point{Lat: *n.Location.Lat, Lon: *n.Location.Lon}, true
		}
		nodes = append(nodes, pn)
	}
	var projects []placement.Project
	for _, name := range f.ProjectNames() {
		projects = append(projects, placement.Project{Name: name, Size: sizes[name].Bytes,
			MinNodes: f.MinNodesOf(name), MinContinents: f.MinContinentsOf(name), Prior: priors[name]})
	}
	return nodes, projects
}

// printPlan lists the changes, node by node, then the totals.
func printPlan(w io.Writer, f *inventory.Fleet, plan *placement.Plan) {
	if len(plan.Changes) == 0 {
		fmt.Fprintln(w, "no change: the placement is as good as the plan can make it")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tCC\tCHANGE\tGAIN/DAY\tDISK AFTER\tWHY")
		for _, c := range plan.Changes {
			change := "+ " + c.Project
			if !c.Add {
				change = "- " + c.Project
			}
			disk := fmt.Sprintf("%s of %s", yamlconf.HumanBytes(float64(c.DiskUsed)), yamlconf.HumanBytes(float64(c.Disk)))
			if c.Reason == placement.ReasonPortfolio {
				disk = "-"
			}
			cc := "-"
			if n := f.NodeByName(c.Node); n != nil && n.Location.Country != "" {
				cc = n.Location.Country
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s: %s\n", c.Node, cc, change, signed(c.Gain), disk, c.Reason, c.Estimate)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, plan.Summary())
	for _, u := range plan.Unmet {
		fmt.Fprintf(w, "unmet: %s\n", u)
	}
}

func signed(b float64) string {
	if b >= 0 {
		return "+" + yamlconf.HumanBytes(b)
	}
	return yamlconf.HumanBytes(b)
}
