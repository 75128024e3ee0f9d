package inventory

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"micromirror/internal/catalog"
	"micromirror/internal/geo"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/yamlconf"
)

var (
	labelRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	projectRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)
)

// validate checks that every value is well formed; the fleet's rules (one
// node per ASN, disk, replicas...) are Check's.
func (f *Fleet) validate() []*yamlconf.FieldError {
	var errs []*yamlconf.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &yamlconf.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case f.Domain == "":
		bad("domain", "required: the fleet's domain; nodes are <sponsor-slug>.<domain>")
	case !yamlconf.IsHostname(f.Domain):
		bad("domain", "%q is not a lowercase domain name", f.Domain)
	}
	if f.Operator.Name == "" {
		bad("operator.name", "required: the fleet's name, shown on every node's pages")
	}
	switch {
	case f.Operator.Contact == "":
		bad("operator.contact", "required: where users report problems (the operator, never a sponsor)")
	case !nodeconfig.IsContact(f.Operator.Contact):
		bad("operator.contact", "%q is neither an e-mail address nor an http(s) URL", f.Operator.Contact)
	}
	for _, u := range []struct{ key, v string }{
		{"operator.url", f.Operator.URL}, {"operator.donate", f.Operator.Donate}, {"watchtower.url", f.Watchtower.URL},
	} {
		if u.v != "" && !yamlconf.IsHTTPURL(u.v) {
			bad(u.key, "%q is not an http(s) URL", u.v)
		}
	}
	if f.Upstream.Host == "" {
		bad("upstream.host", "required: the rsync host every node syncs from")
	} else if !nodeconfig.IsUpstream(f.Upstream.Host) {
		bad("upstream.host", "%q is not a hostname (or host:port)", f.Upstream.Host)
	}
	if !strings.HasPrefix(f.Upstream.Root, "/") {
		bad("upstream.root", "required: the absolute path of the module trees on the upstream (for the announcer)")
	}
	for mod, p := range f.Upstream.Paths {
		if !strings.HasPrefix(p, "/") {
			bad("upstream.paths."+mod, "%q is not an absolute path", p)
		}
	}
	if f.MQTT.Broker != "" && !nodeconfig.IsBrokerURL(f.MQTT.Broker) {
		bad("mqtt.broker", "%q: want tcp://host:1883, ssl://host:8883, ws:// or wss:// URL", f.MQTT.Broker)
	}
	if f.HeadroomPercent < 0 || f.HeadroomPercent >= 90 {
		bad("headroom_percent", "must be in [0, 90)")
	}
	if f.MinNodes < 0 {
		bad("min_nodes", "must not be negative")
	}
	if f.Layout != "" && !catalog.HasLayout(f.Layout) {
		bad("layout", "%q is not a known layout (%s)", f.Layout, strings.Join(catalog.LayoutNames(), ", "))
	}
	f.validatePlan(bad)
	f.validateProjects(bad)
	validateDeploy(f.Deploy, "deploy", bad)
	names := map[string]int{}
	for _, n := range f.Nodes {
		f.validateNode(n, bad)
		validateDeploy(n.Deploy, n.Field("deploy"), bad)
		if n.Name == "" {
			continue
		}
		if j, dup := names[n.Name]; dup {
			bad(n.Field("sponsor.slug"), "hostname %s is already nodes[%d]'s", n.Name, j)
		}
		names[n.Name] = n.index
	}
	return errs
}

type reporter func(field, format string, args ...any)

func (f *Fleet) validatePlan(bad reporter) {
	p := f.Plan
	if err := p.MinGain.Err(); err != nil {
		bad("plan.min_gain", "%v", err)
	}
	if p.UtilisationPercent <= 0 || p.UtilisationPercent > 100 {
		bad("plan.utilisation_percent", "must be in (0, 100]")
	}
	if p.Overlap < 0 || p.Overlap > 1 {
		bad("plan.overlap", "must be in [0, 1]")
	}
	if p.RadiusKM <= 0 {
		bad("plan.radius_km", "must be positive")
	}
	if p.Days < 1 || p.Days > 366 {
		bad("plan.days", "must be 1 to 366")
	}
	if p.MaxProjects < 0 {
		bad("plan.max_projects", "must not be negative (0: no limit)")
	}
}

func (f *Fleet) validateProjects(bad reporter) {
	for _, name := range f.ProjectNames() {
		p := f.Projects[name]
		key := projectKey(name)
		if !projectRE.MatchString(name) {
			bad(key, "%q: use letters, digits, '.', '_' and '-'", name)
			continue
		}
		if p.Name != "" {
			bad(key+".name", "the key above is the project's name; remove name")
		}
		_, known := catalog.Lookup(name)
		if !known && p.Source == "" {
			bad(key, "%q is not in the catalog (micromirror node catalog); give a source to mirror it anyway", name)
		}
		if !known && p.Size.Int() == 0 {
			bad(key+".size", "required for a project outside the catalog: the disk it takes")
		}
		if p.MinNodes != nil && *p.MinNodes < 0 {
			bad(key+".min_nodes", "must not be negative")
		}
		if p.MinContinents < 0 || p.MinContinents > 7 {
			bad(key+".min_continents", "must be 0 to 7")
		}
		for _, s := range []struct {
			k string
			v yamlconf.ByteSize
		}{{"size", p.Size}, {"demand", p.Demand}} {
			if err := s.v.Err(); err != nil {
				bad(key+"."+s.k, "%v", err)
			}
		}
		for _, u := range []struct{ k, v string }{{"mirror_list", p.MirrorList}, {"registration", p.Registration}} {
			if u.v != "" && !yamlconf.IsHTTPURL(u.v) {
				bad(key+"."+u.k, "%q is not an http(s) URL", u.v)
			}
		}
		// The node config's own checks of a project entry, on a scratch node.
		probe := nodeconfig.Default()
		entry := p.Project
		entry.Name = name
		probe.Projects = []nodeconfig.Project{entry}
		for _, fe := range probe.Validate() {
			if rest, ok := strings.CutPrefix(fe.Field, "projects[0]"); ok && rest != ".name" {
				bad(key+rest, "%s", fe.Msg)
			}
		}
	}
}

// projectKey is the key path of a portfolio entry.
func projectKey(name string) string { return "projects." + name }

func (f *Fleet) validateNode(n *Node, bad reporter) {
	field := n.Field
	s := n.Sponsor
	switch {
	case s.Slug == "":
		bad(field("sponsor.slug"), "required: the hostname label, <slug>.%s", f.Domain)
	case !labelRE.MatchString(s.Slug):
		bad(field("sponsor.slug"), "%q is not a lowercase DNS label", s.Slug)
	}
	if s.Name == "" {
		bad(field("sponsor.name"), "required: every page credits the sponsor by name")
	}
	if s.URL != "" && !yamlconf.IsHTTPURL(s.URL) {
		bad(field("sponsor.url"), "%q is not an http(s) URL", s.URL)
	}
	if n.Name != "" && !yamlconf.IsHostname(n.Name) {
		bad(field("name"), "%q is not a lowercase hostname", n.Name)
	}
	if !slices.Contains([]string{Planned, Active, Retired}, n.Status) {
		bad(field("status"), "%q: want planned, active or retired", n.Status)
	}
	if n.IPv4 != "" {
		if a, err := netip.ParseAddr(n.IPv4); err != nil || !a.Is4() {
			bad(field("ipv4"), "%q is not an IPv4 address", n.IPv4)
		}
	}
	if n.IPv6 != "" {
		if a, err := netip.ParseAddr(n.IPv6); err != nil || !a.Is6() || a.Is4In6() {
			bad(field("ipv6"), "%q is not an IPv6 address", n.IPv6)
		}
	}
	if err := n.ASN.Err(); err != nil {
		bad(field("asn"), "%v", err)
	}
	l := n.Location
	if l.Country != "" {
		if _, ok := geo.Continent(l.Country); !ok || len(l.Country) != 2 || strings.ToUpper(l.Country) != l.Country {
			bad(field("location.country"), "%q is not an ISO 3166-1 alpha-2 country code (e.g. US, DE)", l.Country)
		}
	}
	if (l.Lat == nil) != (l.Lon == nil) {
		bad(field("location"), "lat and lon go together")
	} else if l.Lat != nil && !(geo.Point{Lat: *l.Lat, Lon: *l.Lon}).Valid() {
		bad(field("location"), "lat must be in [-90, 90] and lon in [-180, 180]")
	}
	if err := n.Disk.Err(); err != nil {
		bad(field("disk"), "%v", err)
	}
	if err := n.NIC.Err(); err != nil {
		bad(field("nic"), "%v", err)
	}
	if err := n.Projects.Err(); err != nil {
		bad(field("projects"), "%v", err)
	}
	if !n.Projects.Auto && len(n.Placement) > 0 {
		bad(field("placement"), "only for nodes with projects: auto (the planner's placement)")
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"projects", n.Projects.Names}, {"placement", n.Placement}} {
		seen := map[string]bool{}
		for i, p := range list.names {
			k := fmt.Sprintf("%s[%d]", field(list.key), i)
			switch {
			case f.Projects[p] == nil:
				bad(k, "%q is not in the fleet's projects (declare it under projects:)", p)
			case seen[p]:
				bad(k, "%q is listed twice", p)
			}
			seen[p] = true
		}
	}
	for p, state := range n.Registrations {
		k := field("registrations." + p)
		if f.Projects[p] == nil {
			bad(k, "%q is not in the fleet's projects", p)
		}
		if !slices.Contains([]string{Pending, Submitted, Live}, state) {
			bad(k, "%q: want pending, submitted or live", state)
		}
	}
}
