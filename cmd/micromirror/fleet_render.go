package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"micromirror/internal/inventory"
	"micromirror/internal/render"
	"micromirror/internal/watchtower"
)

const fleetRenderUsage = `Usage: micromirror fleet render [-inventory fleet.yaml] [-secrets FILE] [-o DIR]

Writes the configs of every node that is not retired, read back by each
program's own loader before anything is replaced:

  DIR/nodes/<hostname>/node.yaml       the node's config (copy the folder to
                                       /etc/micromirror/ on the node)
  DIR/nodes/<hostname>/secrets/        its telemetry token and broker password
  DIR/watchtower/nodes.yaml            the watchtower's nodes_file
  DIR/announce/modules.yaml            the announcer's modules_file

Tokens come from the secrets file (micromirror fleet secrets creates them),
never from the inventory. DIR is replaced whole; it must be empty or an
earlier render.

Flags:
`

func (m *Main) runFleetRender(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var ff fleetFlags
	fs := newFlagSet("render", fleetRenderUsage, stderr)
	ff.register(fs, false, true)
	out := fs.String("o", "", "output directory (default rendered/ beside the inventory)")
	f, code, done := ff.parse(fs, args, stderr)
	if done {
		return code
	}
	s, err := inventory.LoadSecrets(ff.secretsPath())
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet render: %v\n", err)
		return 1
	}
	if *out == "" {
		*out = filepath.Join(filepath.Dir(ff.inventory), "rendered")
	}
	res, err := render.Write(f, s, *out)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet render: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "rendered %d nodes and %d upstream modules into %s\n", len(res.Nodes), len(res.Modules), *out)
	for _, l := range []struct {
		what  string
		paths []string
	}{{"added", res.Added}, {"changed", res.Changed}, {"removed", res.Removed}} {
		paths := l.paths
		if len(paths) > 12 {
			paths = append(paths[:10:10], fmt.Sprintf("... %d files in all", len(l.paths)))
		}
		if len(paths) > 0 {
			fmt.Fprintf(stdout, "  %-8s %s\n", l.what, strings.Join(paths, "\n           "))
		}
	}
	if len(res.Added)+len(res.Changed)+len(res.Removed) == 0 {
		fmt.Fprintln(stdout, "  nothing changed")
	}
	if errs := countErrors(f.Check(f.ProjectSizes(nil))); errs > 0 {
		fmt.Fprintf(stderr, "note: the fleet breaks %d of its rules; see micromirror fleet check\n", errs)
	}
	return 0
}

func countErrors(findings []inventory.Finding) int {
	n := 0
	for _, x := range findings {
		if x.Severity == inventory.Error {
			n++
		}
	}
	return n
}

const fleetSecretsUsage = `Usage: micromirror fleet secrets [-inventory fleet.yaml] [-secrets FILE]

Adds what the secrets file lacks: a random telemetry token for every node
that is not retired, the broker password when mqtt.username is set, and
the watchtower operator's token the fleet tools read its API with (the
hash for watchtower.yaml is printed). Existing secrets are kept; the file
is written with mode 600. Values are never printed.

Flags:
`

func (m *Main) runFleetSecrets(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var ff fleetFlags
	fs := newFlagSet("secrets", fleetSecretsUsage, stderr)
	ff.register(fs, false, true)
	f, code, done := ff.parse(fs, args, stderr)
	if done {
		return code
	}
	path := ff.secretsPath()
	s, err := inventory.LoadSecrets(path)
	if err == nil {
		var added []string
		if added, err = s.Fill(f); err == nil && len(added) > 0 {
			err = s.Save(path)
		}
		if err == nil {
			if len(added) == 0 {
				fmt.Fprintf(stdout, "%s has every secret the fleet needs\n", path)
			} else {
				fmt.Fprintf(stdout, "added to %s: %s\n", path, describeSecrets(added))
				if slices.Contains(added, "watchtower_operator_token") {
					fmt.Fprintf(stdout, "the watchtower wants its hash in watchtower.yaml: operator_token_sha256: %s\n", watchtower.HashToken(s.WatchtowerOperatorToken))
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet secrets: %v\n", err)
		return 1
	}
	if stale := s.Stale(f); len(stale) > 0 {
		fmt.Fprintf(stdout, "tokens of nodes no longer live (kept; delete them by hand once the nodes are gone): %s\n", strings.Join(stale, ", "))
	}
	return 0
}

// describeSecrets says "the mqtt_password and 38 telemetry tokens (a, b, c, ...)".
func describeSecrets(keys []string) string {
	var parts, nodes []string
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, "telemetry_tokens."); ok {
			nodes = append(nodes, name)
		} else {
			parts = append(parts, "the "+k)
		}
	}
	if len(nodes) > 0 {
		list := nodes
		if len(list) > 3 {
			list = append(list[:3:3], "...")
		}
		parts = append(parts, fmt.Sprintf("%d telemetry tokens (%s)", len(nodes), strings.Join(list, ", ")))
	}
	return strings.Join(parts, " and ")
}
