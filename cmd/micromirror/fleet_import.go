package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"micromirror/internal/adopt"
	"micromirror/internal/atomicfile"
)

const fleetImportUsage = `Usage: micromirror fleet import -ansible DIR -operator NAME -contact ADDRESS [-o fleet.yaml]

Reads the Ansible inventory of a fleet that already runs, laid out as the
Micro Mirrors' (inventory.yaml with MIRROR.hosts, host_vars/<host>.yaml,
templates/update-mirror.sh, files/systemd.mqtt-exec.service), and writes
a fleet inventory that reproduces it under layout: fcix: every node with
its sponsor, location and projects, the upstream and the broker. What the
Ansible inventory does not hold (addresses, ASN, building, disk, port) is
left out and marked; fleet check names each gap. Problems are reported
with file and line, and nothing is written then. -o - writes to stdout.
Then: micromirror fleet compare -ansible DIR (docs/fleet.md, "Taking over
an existing fleet").

Flags:
`

func (m *Main) runFleetImport(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	fs := newFlagSet("import", fleetImportUsage, stderr)
	dir := fs.String("ansible", "", "the Ansible inventory's directory (required)")
	out := fs.String("o", "fleet.yaml", "the inventory to write; - for stdout")
	force := fs.Bool("force", false, "replace an existing output file")
	var o adopt.Options
	fs.StringVar(&o.Operator, "operator", "", "the fleet's name on every page (required)")
	fs.StringVar(&o.Contact, "contact", "", "the operator's e-mail or URL on every page (required)")
	fs.StringVar(&o.OperatorURL, "operator-url", "", "the operator's web site")
	fs.StringVar(&o.Upstream, "upstream", "", "the upstream rsync host (default: UPSTREAM= of the update script)")
	fs.StringVar(&o.Broker, "broker", "", "the MQTT broker URL (default: mqtt-exec's -h, port 1883)")
	fs.StringVar(&o.UpstreamRoot, "upstream-root", "", "where the upstream keeps module trees (default /data/mirror)")
	fs.StringVar(&o.DataDir, "data-dir", "", "where the nodes keep their trees (default /data/mirror)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if o.Operator == "" || o.Contact == "" {
		fmt.Fprintln(stderr, "micromirror fleet import: the Ansible inventory does not name the operator: give -operator NAME and -contact ADDRESS (shown on every page)")
		return 2
	}
	a, err := adopt.ReadAnsible(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet import: %v\n", err)
		return 1
	}
	o.Now = time.Now()
	src, err := adopt.Inventory(a, o)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet import: %v\n", err)
		return 1
	}
	if *out == "-" {
		stdout.Write(src)
		return 0
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		fmt.Fprintf(stderr, "micromirror fleet import: %s exists; -force replaces it\n", *out)
		return 1
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "micromirror fleet import: %v\n", err)
		return 1
	}
	if err := atomicfile.Write(*out, src, 0o644); err != nil {
		fmt.Fprintf(stderr, "micromirror fleet import: %v\n", err)
		return 1
	}
	projects := map[string]bool{}
	for _, h := range a.Hosts {
		for _, p := range h.Projects {
			projects[p] = true
		}
	}
	fmt.Fprintf(stdout, "wrote %s: %d nodes, %d projects (layout fcix); each node lacks %d keys the Ansible inventory does not hold: micromirror fleet check -inventory %s -offline lists them\n",
		*out, len(a.Hosts), len(projects), len(adopt.Gaps), *out)
	return 0
}
