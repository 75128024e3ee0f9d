package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"micromirror/internal/inventory"
)

const fleetCheckUsage = `Usage: micromirror fleet check [-inventory fleet.yaml] [-json]

Validates the inventory (every bad value with its line and key) and checks
the fleet's rules: hostnames are <sponsor-slug>.<domain>; at most one node
per ASN and per building; each node's projects fit its disk with the
headroom (sizes measured by the watchtower when it answers, else the
catalog's); every project on its minimum number of active nodes (and
continents); public IPv4 and IPv6 addresses; locations; registrations of
retired nodes. Exits 1 when a rule is broken.

Flags:
`

func (m *Main) runFleetCheck(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var ff fleetFlags
	fs := newFlagSet("check", fleetCheckUsage, stderr)
	ff.register(fs, true, false)
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	f, code, done := ff.parse(fs, args, stderr)
	if done {
		return code
	}
	sizes := ff.sizes(ctx, f, stderr)
	findings := f.Check(sizes)
	errs := countErrors(findings)
	if *asJSON {
		printJSON(stdout, map[string]any{"version": 1, "findings": findings, "sizes": sizes})
	} else {
		for _, x := range findings {
			fmt.Fprintln(stdout, x.Format(ff.inventory))
		}
		fmt.Fprintf(stdout, "%s: %s, %d projects (sizes: %s): %d errors, %d warnings\n", ff.inventory,
			nodeCounts(f), len(f.Projects), sizeSources(sizes), errs, len(findings)-errs)
	}
	if errs > 0 {
		return 1
	}
	return 0
}

// nodeCounts says "40 nodes (36 active, 3 planned, 1 retired)".
func nodeCounts(f *inventory.Fleet) string {
	by := map[string]int{}
	for _, n := range f.Nodes {
		by[n.Status]++
	}
	var parts []string
	for _, st := range []string{inventory.Active, inventory.Planned, inventory.Retired} {
		if by[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", by[st], st))
		}
	}
	return fmt.Sprintf("%d nodes (%s)", len(f.Nodes), strings.Join(parts, ", "))
}

// sizeSources says "3 measured, 9 catalog".
func sizeSources(sizes map[string]inventory.Size) string {
	by := map[string]int{}
	for _, s := range sizes {
		by[s.Source]++
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", by[k], k))
	}
	return strings.Join(parts, ", ")
}
