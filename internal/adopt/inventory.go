package adopt

import (
	"cmp"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"micromirror/internal/inventory"
)

// Options are what an Ansible inventory does not say about the fleet.
type Options struct {
	Operator, Contact, OperatorURL string
	// Upstream and Broker override what the templates name.
	Upstream, Broker string
	// UpstreamRoot is where the upstream keeps its module trees, for the
	// announcer's list (default /data/mirror, as the nodes keep theirs).
	UpstreamRoot string
	// DataDir is where the nodes keep the trees they serve (default
	// /data/mirror: adopting a node does not move terabytes).
	DataDir string
	Now     time.Time
}

// Gaps are the keys of each node the Ansible inventory does not hold:
// fleet check reports each one by node and key until they are filled in.
var Gaps = []string{"ipv4", "ipv6", "asn", "site", "disk", "nic"}

// Inventory writes the fleet inventory (fleet.yaml) that reproduces the
// Ansible inventory under the fcix layout, and reads it back with the
// inventory's own loader: an output that does not load is an error, never
// a file.
func Inventory(a *Ansible, o Options) ([]byte, error) {
	if o.Operator == "" || o.Contact == "" {
		return nil, fmt.Errorf("the Ansible inventory does not name the operator: give -operator NAME and -contact ADDRESS (shown on every page)")
	}
	domain, err := domainOf(a.Hosts)
	if err != nil {
		return nil, err
	}
	upstream := cmp.Or(o.Upstream, a.Upstream)
	if upstream == "" {
		return nil, fmt.Errorf("%s: no UPSTREAM= in templates/update-mirror.sh: give -upstream HOST", a.Dir)
	}
	broker := o.Broker
	if broker == "" && a.Broker != "" {
		broker = "tcp://" + a.Broker + ":" + cmp.Or(a.BrokerPort, "1883")
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# The fleet of %s, imported from the Ansible inventory %s\n", domain, a.Dir)
	w("# by micromirror fleet import on %s. Every node keeps the URLs, rsync\n", o.Now.UTC().Format("2006-01-02"))
	w("# modules, sources and topics it is registered under (layout: fcix).\n")
	w("# What the Ansible inventory does not hold is left out and marked\n")
	w("# \"not in the Ansible inventory\"; micromirror fleet check names each gap.\n\n")
	w("domain: %s\nlayout: fcix\n", domain)
	w("operator:\n  name: %s\n  contact: %s\n", quote(o.Operator), quote(o.Contact))
	if o.OperatorURL != "" {
		w("  url: %s\n", quote(o.OperatorURL))
	}
	w("upstream:\n  host: %s\n  root: %s   # where %s keeps the module trees (for micromirror announce)\n",
		upstream, cmp.Or(o.UpstreamRoot, "/data/mirror"), upstream)
	if broker != "" {
		w("mqtt:\n  broker: %s\n", quote(broker))
	}
	w("node:\n  data_dir: %s   # the trees stay where the nodes have them\n", cmp.Or(o.DataDir, "/data/mirror"))
	if a.Bwlimit > 0 {
		w("  sync:\n    bwlimit: %s   # the update script's --bwlimit\n", byteRate(a.Bwlimit))
	}
	w("projects:\n")
	for _, p := range projectsOf(a.Hosts) {
		w("  %s: {}\n", p)
	}
	w("nodes:\n")
	for _, h := range a.Hosts {
		slug := strings.TrimSuffix(h.Name, "."+domain)
		w("  - sponsor:\n      slug: %s\n      name: %s\n", slug, quote(cmp.Or(h.Sponsor, slug)))
		if h.Sponsor == "" {
			w("      # not in the Ansible inventory: site_sponsor (the name every page credits)\n")
		}
		if h.SponsorURL != "" {
			w("      url: %s\n", quote(h.SponsorURL))
		}
		if h.Country != "" || h.City != "" {
			w("    location: {")
			var parts []string
			if h.Country != "" {
				parts = append(parts, "country: "+h.Country)
			}
			if h.City != "" {
				parts = append(parts, "city: "+quote(h.City))
			}
			w("%s}", strings.Join(parts, ", "))
			if h.Region != "" {
				w("   # region: %s", h.Region)
			}
			w("\n")
		}
		w("    # not in the Ansible inventory: %s\n", strings.Join(Gaps, ", "))
		w("    projects: [%s]\n", strings.Join(h.Projects, ", "))
		var node []string
		if h.NoDSCP {
			node = append(node, "dscp: none")
		}
		if !h.TLS {
			node = append(node, "listen: {https: []}")
		}
		if len(node) > 0 {
			w("    node: {%s}\n", strings.Join(node, ", "))
		}
		if h.SSHPort != 0 && h.SSHPort != 22 {
			w("    # ansible_port %d: give this host \"Port %d\" in ~/.ssh/config for fleet deploy\n", h.SSHPort, h.SSHPort)
		}
		if len(h.Unknown) > 0 {
			w("    # host_vars not carried over: %s\n", strings.Join(h.Unknown, ", "))
		}
	}
	out := []byte(b.String())
	if _, err := inventory.Parse("fleet.yaml", out); err != nil {
		return nil, fmt.Errorf("the imported inventory does not load (a bug of the import): %w", err)
	}
	return out, nil
}

// domainOf is the domain every host name shares below its first label.
func domainOf(hosts []Host) (string, error) {
	domain := ""
	for _, h := range hosts {
		_, d, ok := strings.Cut(h.Name, ".")
		if !ok {
			return "", fmt.Errorf("%s: host %s is not <sponsor>.<fleet domain>", h.File, h.Name)
		}
		if domain == "" {
			domain = d
		} else if d != domain {
			return "", fmt.Errorf("%s: host %s is not in %s like the others", h.File, h.Name, domain)
		}
	}
	return domain, nil
}

func projectsOf(hosts []Host) []string {
	seen := map[string]bool{}
	var out []string
	for _, h := range hosts {
		for _, p := range h.Projects {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// byteRate writes bytes per second as a node config rate, exactly.
func byteRate(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// quote writes a YAML double-quoted scalar (JSON's escapes are YAML's).
func quote(s string) string { return strconv.Quote(s) }
