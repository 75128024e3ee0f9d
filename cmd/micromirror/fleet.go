package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"micromirror/internal/inventory"
	"micromirror/internal/watchtower"
)

const fleetUsage = `Usage: micromirror fleet <command> [flags]

The operator's tools, all driven by one inventory file, fleet.yaml
(docs/fleet.md):

  check          validate the inventory and check the fleet's rules
  plan           suggest which projects each auto node should host
  render         write every node's node.yaml, the watchtower's node list
                 and the announcer's module list
  deploy         roll them out over SSH, node by node, stopping at the first
                 node that does not come back healthy
  registrations  per project, what each node must be registered with;
                 compare with the projects' public mirror lists
  secrets        generate the telemetry tokens and broker password the
                 secrets file lacks
  import         write an inventory from a running fleet's Ansible
                 inventory, keeping every URL, module and topic
  compare        what the rendered nodes would do otherwise than the
                 Ansible templates (URLs, modules, sources, topics, pacing)

Run 'micromirror fleet <command> -help' for a command's flags.
`

func (m *Main) runFleet(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, fleetUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return m.runFleetCheck(ctx, args[1:])
	case "plan":
		return m.runFleetPlan(ctx, args[1:])
	case "render":
		return m.runFleetRender(ctx, args[1:])
	case "deploy":
		return m.runFleetDeploy(ctx, args[1:])
	case "registrations":
		return m.runFleetRegistrations(ctx, args[1:])
	case "secrets":
		return m.runFleetSecrets(ctx, args[1:])
	case "import":
		return m.runFleetImport(ctx, args[1:])
	case "compare":
		return m.runFleetCompare(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, fleetUsage)
		return 0
	}
	fmt.Fprintf(stderr, "micromirror fleet: unknown command %q\n\n%s", args[0], fleetUsage)
	return 2
}

// fleetFlags are the flags every fleet command shares.
type fleetFlags struct {
	inventory string
	secrets   string
	// watchtower overrides the inventory's URL; offline skips it.
	watchtower, watchtowerCA string
	offline                  bool
}

func (ff *fleetFlags) register(fs *flag.FlagSet, withWatchtower, withSecrets bool) {
	fs.StringVar(&ff.inventory, "inventory", "fleet.yaml", "the fleet inventory")
	if withSecrets {
		fs.StringVar(&ff.secrets, "secrets", "", "the secrets file (default fleet-secrets.yaml beside the inventory)")
	}
	if withWatchtower {
		fs.StringVar(&ff.watchtower, "watchtower", "", "watchtower base URL (default the inventory's watchtower.url)")
		fs.StringVar(&ff.watchtowerCA, "watchtower-ca", "", "PEM bundle to trust for the watchtower's certificate")
		fs.BoolVar(&ff.offline, "offline", false, "do not ask the watchtower (catalog sizes, demand from -demand only)")
	}
}

// newFlagSet makes a fleet command's flag set with its usage text.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fleet "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	return fs
}

// parse parses a fleet command's flags and loads the inventory; done says
// the command ends here with code.
func (ff *fleetFlags) parse(fs *flag.FlagSet, args []string, stderr io.Writer) (f *inventory.Fleet, code int, done bool) {
	if code, done := parseFlags(fs, args); done {
		return nil, code, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "micromirror %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return nil, 2, true
	}
	f, err := inventory.Load(ff.inventory)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet: %v\n", err)
		return nil, 1, true
	}
	return f, 0, false
}

// printJSON writes v indented, for the commands' -json output.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (ff *fleetFlags) secretsPath() string {
	if ff.secrets != "" {
		return ff.secrets
	}
	return filepath.Join(filepath.Dir(ff.inventory), "fleet-secrets.yaml")
}

// client returns the watchtower client, or nil when there is none to ask.
func (ff *fleetFlags) client(f *inventory.Fleet) (*watchtower.Client, error) {
	url := ff.watchtower
	if url == "" {
		url = f.Watchtower.URL
	}
	if ff.offline || url == "" {
		return nil, nil
	}
	sec, err := inventory.LoadSecrets(ff.secretsPath())
	if err != nil {
		return nil, err
	}
	return watchtower.NewClient(url, ff.watchtowerCA, sec.WatchtowerOperatorToken)
}

// sizes gives each project its size, measured by the watchtower when one
// answers; a note says where the figures came from.
func (ff *fleetFlags) sizes(ctx context.Context, f *inventory.Fleet, stderr io.Writer) map[string]inventory.Size {
	measured := map[string]int64{}
	c, err := ff.client(f)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror fleet: %v; using catalog sizes\n", err)
	} else if c != nil {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		nodes, err := c.Nodes(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "micromirror fleet: %v; using catalog sizes\n", err)
		}
		measured = watchtower.MeasuredSizes(nodes)
	}
	return f.ProjectSizes(measured)
}
