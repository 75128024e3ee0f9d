package main

import (
	"context"
	"fmt"

	"micromirror/internal/adopt"
)

const fleetCompareUsage = `Usage: micromirror fleet compare -ansible DIR [-inventory fleet.yaml]

Lists, per node and project, every URL prefix, rsync module, upstream
source, extra file, topic, bandwidth limit and exclude that a node
rendered from the inventory would have otherwise than the Ansible
templates (templates/update-mirror.sh, templates/rsyncd.conf, nginx's
root) make for the same host. Nothing listed: taking the nodes over
changes nothing the projects' mirror lists and checkers hold. Exits 1
when something differs.

Flags:
`

func (m *Main) runFleetCompare(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var ff fleetFlags
	fs := newFlagSet("compare", fleetCompareUsage, stderr)
	ff.register(fs, false, false)
	dir := fs.String("ansible", "", "the Ansible inventory's directory (required)")
	f, code, done := ff.parse(fs, args, stderr)
	if done {
		return code
	}
	if *dir == "" {
		fs.Usage()
		return 2
	}
	a, err := adopt.ReadAnsible(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet compare: %v\n", err)
		return 1
	}
	t, err := adopt.ReadTemplates(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet compare: %v\n", err)
		return 1
	}
	diffs, compared, err := adopt.Compare(a, t, f)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet compare: %v\n", err)
		return 1
	}
	for _, d := range diffs {
		fmt.Fprintln(stdout, d)
	}
	fmt.Fprintf(stdout, "%d nodes, %d hosted projects compared: %d differences\n", len(a.Hosts), compared, len(diffs))
	if len(diffs) > 0 {
		return 1
	}
	return 0
}
