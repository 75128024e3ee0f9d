package inventory

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"micromirror/internal/catalog"
	"micromirror/internal/geo"
	"micromirror/internal/yamlconf"
	"micromirror/internal/yamlpos"
)

// Severities of a finding: an error breaks a fleet rule (`fleet check`
// exits 1); a warning is worth a look.
const (
	Error   = "error"
	Warning = "warning"
)

// Finding is one broken rule.
type Finding struct {
	Severity string `json:"severity"`
	// Rule names the rule: hostname, asn, building, disk, hardware,
	// replicas, continents, addresses, location, registrations.
	Rule    string `json:"rule"`
	Node    string `json:"node,omitempty"`
	Project string `json:"project,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// Format renders "fleet.yaml:31: error [asn] node: message".
func (x Finding) Format(file string) string {
	loc := file
	if x.Line > 0 {
		loc = fmt.Sprintf("%s:%d", file, x.Line)
	}
	subject := x.Node
	if subject == "" {
		subject = x.Project
	}
	return fmt.Sprintf("%s: %s [%s] %s: %s", loc, x.Severity, x.Rule, subject, x.Message)
}

// Size is a project's disk footprint and where the figure comes from.
type Size struct {
	Bytes  int64  `json:"bytes"`
	Source string `json:"source"` // "inventory", "measured", "catalog"
}

// ProjectSizes gives each portfolio project its size: the inventory's
// `size`, else the largest tree a node reported to the watchtower
// (measured), else the catalog's estimate.
func (f *Fleet) ProjectSizes(measured map[string]int64) map[string]Size {
	out := map[string]Size{}
	for _, name := range f.ProjectNames() {
		p := f.Projects[name]
		switch r, inCatalog := catalog.Lookup(name); {
		case p.Size.Int() > 0:
			out[name] = Size{p.Size.Int(), "inventory"}
		case measured[name] > 0:
			out[name] = Size{measured[name], "measured"}
		case inCatalog:
			out[name] = Size{r.SizeBytes, "catalog"}
		}
	}
	return out
}

// Check applies the fleet's rules to every node that is not retired (and
// the registration rules to retired ones) and returns what it found,
// errors first, then in file order.
func (f *Fleet) Check(sizes map[string]Size) []Finding {
	c := &checker{f: f, file: f.syntax(), byAddr: map[string]*Node{}}
	c.hostnames()
	c.faultDomains()
	for _, n := range f.Live() {
		c.hardware(n, sizes)
		c.addresses(n)
		c.location(n)
	}
	c.replicas()
	c.registrations()
	sort.SliceStable(c.out, func(i, j int) bool {
		if c.out[i].Severity != c.out[j].Severity {
			return c.out[i].Severity == Error
		}
		return c.out[i].Line < c.out[j].Line
	})
	return c.out
}

type checker struct {
	f      *Fleet
	file   *ast.File
	byAddr map[string]*Node // first live node with each address
	out    []Finding
}

func (c *checker) add(sev, rule string, n *Node, project, field, format string, args ...any) {
	x := Finding{Severity: sev, Rule: rule, Project: project, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		x.Node = n.Name
	}
	if field != "" {
		x.Line = yamlpos.LineOf(c.file, field)
	}
	c.out = append(c.out, x)
}

func (c *checker) hostnames() {
	for _, n := range c.f.Nodes {
		want := n.Sponsor.Slug + "." + c.f.Domain
		if n.Name != want {
			c.add(Error, "hostname", n, "", n.Field("name"), "hostname must be <sponsor-slug>.<domain>, %s", want)
		}
	}
}

// faultDomains: at most one node per ASN and per building, so one
// network's or one building's outage takes down one node.
func (c *checker) faultDomains() {
	byASN, bySite := map[uint32]*Node{}, map[string]*Node{}
	for _, n := range c.f.Live() {
		if a := n.ASN.Number(); a == 0 {
			c.add(Error, "asn", n, "", n.Field("asn"), "required: the hosting network's AS number (one node per ASN)")
		} else if first := byASN[a]; first != nil {
			c.add(Error, "asn", n, "", n.Field("asn"), "%s is also %s's network; at most one node per ASN", n.ASN, first.Name)
		} else {
			byASN[a] = n
		}
		site := strings.Join(strings.Fields(strings.ToLower(n.Site)), " ")
		if site == "" {
			c.add(Error, "building", n, "", n.Field("site"), "required: the building the node is in (one node per building)")
		} else if first := bySite[site]; first != nil {
			c.add(Error, "building", n, "", n.Field("site"), "%q also houses %s; at most one node per building", n.Site, first.Name)
		} else {
			bySite[site] = n
		}
	}
}

func (c *checker) hardware(n *Node, sizes map[string]Size) {
	if n.NIC.BitsPerSecond() == 0 {
		c.add(Error, "hardware", n, "", n.Field("nic"), "required: the port speed, e.g. 1Gbit")
	}
	if n.Disk.Int() == 0 {
		c.add(Error, "hardware", n, "", n.Field("disk"), "required: the disk size, e.g. 2TB")
		return
	}
	var total int64
	var parts []string
	for _, p := range n.Hosted() {
		s := sizes[p]
		total += s.Bytes
		parts = append(parts, fmt.Sprintf("%s %s (%s)", p, yamlconf.HumanBytes(float64(s.Bytes)), s.Source))
	}
	usable := c.f.UsableDisk(n)
	if total > usable {
		field := n.Field("projects")
		if n.Projects.Auto {
			field = n.Field("placement")
		}
		c.add(Error, "disk", n, "", field, "projects need %s but %s of the %s disk is usable with %g%% headroom: %s",
			yamlconf.HumanBytes(float64(total)), yamlconf.HumanBytes(float64(usable)), n.Disk, c.f.HeadroomPercent, strings.Join(parts, ", "))
	}
}

func (c *checker) addresses(n *Node) {
	sev := Error
	if n.Status == Planned {
		sev = Warning
	}
	for _, a := range []struct{ key, v, fam string }{{"ipv4", n.IPv4, "IPv4"}, {"ipv6", n.IPv6, "IPv6"}} {
		if a.v == "" {
			c.add(sev, "addresses", n, "", n.Field(a.key), "no static %s address: sponsors give both, and the distros' checkers test both", a.fam)
			continue
		}
		ip, err := netip.ParseAddr(a.v)
		if err == nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified()) {
			c.add(Error, "addresses", n, "", n.Field(a.key), "%s is not a public address", a.v)
		}
	}
	for _, a := range []struct{ key, v string }{{"ipv4", n.IPv4}, {"ipv6", n.IPv6}} {
		if a.v == "" {
			continue
		}
		if first := c.byAddr[a.v]; first != nil {
			c.add(Error, "addresses", n, "", n.Field(a.key), "%s is also %s's address", a.v, first.Name)
		} else {
			c.byAddr[a.v] = n
		}
	}
}

func (c *checker) location(n *Node) {
	if n.Location.Country == "" {
		c.add(Error, "location", n, "", n.Field("location"), "required: the country (ISO code), for the distros' mirror lists")
	}
	if n.Location.Lat == nil {
		c.add(Warning, "location", n, "", n.Field("location"), "no lat/lon: the planner cannot weigh the node's distance to others")
	}
}

// replicas: every portfolio project on at least its minimum number of
// active nodes, across its minimum number of continents.
func (c *checker) replicas() {
	for _, name := range c.f.ProjectNames() {
		var active, planned []string
		conts := map[string]bool{}
		for _, n := range c.f.Live() {
			if !hosts(n, name) {
				continue
			}
			if n.Status == Planned {
				planned = append(planned, n.Name)
				continue
			}
			active = append(active, n.Name)
			if cont, ok := geo.Continent(n.Location.Country); ok {
				conts[cont] = true
			}
		}
		field := projectKey(name)
		if want := c.f.MinNodesOf(name); len(active) < want {
			more := ""
			if len(planned) > 0 {
				more = fmt.Sprintf("; planned: %s", strings.Join(planned, ", "))
			}
			c.add(Error, "replicas", nil, name, field, "%d active node(s) of the %d it needs (%s)%s",
				len(active), want, orNone(active), more)
		}
		if want := c.f.MinContinentsOf(name); len(conts) < want {
			c.add(Error, "continents", nil, name, field, "active nodes on %d continent(s) of the %d it needs", len(conts), want)
		}
	}
}

func (c *checker) registrations() {
	for _, n := range c.f.Nodes {
		for _, p := range sortedKeys(n.Registrations) {
			if n.Registrations[p] != Live {
				continue
			}
			switch {
			case n.Status == Retired:
				c.add(Warning, "registrations", n, p, n.Field("registrations."+p), "retired but live in %s's mirror list: ask for its removal", p)
			case !hosts(n, p):
				c.add(Warning, "registrations", n, p, n.Field("registrations."+p), "live in %s's mirror list but does not host it", p)
			}
		}
	}
}

func hosts(n *Node, project string) bool {
	for _, p := range n.Hosted() {
		if p == project {
			return true
		}
	}
	return false
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
