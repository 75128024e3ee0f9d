package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"micromirror/internal/deploy"
	"micromirror/internal/inventory"
)

const fleetDeployUsage = `Usage: micromirror fleet deploy [-inventory fleet.yaml] [-secrets FILE] [-deb FILE.deb]...
                               [-parallel N] [-only NODE]... [-dry-run] [-ssh-config FILE]

Rolls the rendered configs out over SSH (the system ssh and rsync, your
keys and ~/.ssh/config): first the watchtower's node list, then each live
node, then the announcer's module list (deploy: in the inventory says
where they go). Per node: the files are uploaded beside its config, the
node checks them (node -check), they replace the old ones (kept in
.previous/), the node reloads (or restarts, for what a reload cannot
apply), and it must then answer healthy from here, and stay so for
-settle: its page as its own hostname, naming its sponsor and projects,
and its admin status with those projects, none failed since. A node
that does not gets its previous config back, and the rollout stops there:
the nodes after it are left alone. -deb installs a package on each node
first (the one for the host's architecture, of those given), then
restarts it. -dry-run prints each node's diff and changes nothing.

Flags:
`

func (m *Main) runFleetDeploy(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var ff fleetFlags
	fs := newFlagSet("deploy", fleetDeployUsage, stderr)
	ff.register(fs, false, true)
	var o deploy.Options
	fs.Func("deb", "a micromirror .deb to install on each node first (one per architecture: repeat, or comma-separated)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				o.Debs = append(o.Debs, f)
			}
		}
		return nil
	})
	fs.IntVar(&o.Parallel, "parallel", 1, "nodes rolled out at once")
	fs.Func("only", "deploy this node alone (repeat, or comma-separated)", func(v string) error {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.Only = append(o.Only, n)
			}
		}
		return nil
	})
	fs.BoolVar(&o.DryRun, "dry-run", false, "print what would change on each node; change nothing")
	fs.StringVar(&o.SSHConfig, "ssh-config", "", "an ssh_config file for every connection (ssh -F)")
	fs.DurationVar(&o.HealthTimeout, "health-timeout", 30*time.Second, "how long a node may take to answer healthy")
	fs.DurationVar(&o.Settle, "settle", 3*time.Second, "how long a node must then stay healthy")
	f, code, done := ff.parse(fs, args, stderr)
	if done {
		return code
	}
	if o.Parallel < 1 {
		fmt.Fprintln(stderr, "micromirror fleet deploy: -parallel must be at least 1")
		return 2
	}
	s, err := inventory.LoadSecrets(ff.secretsPath())
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet deploy: %v\n", err)
		return 1
	}
	o.Out = stdout
	start := time.Now()
	results, err := deploy.Run(ctx, f, s, o)
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Outcome]++
	}
	var parts []string
	for _, k := range []string{"deployed", "would change", "up to date", "failed", "skipped"} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	fmt.Fprintf(stdout, "%s in %v\n", strings.Join(parts, ", "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet deploy: %v\n", err)
		return 1
	}
	return 0
}
