package inventory

import (
	"fmt"
	"strings"
	"testing"
)

func findings(t *testing.T, src string) []string {
	t.Helper()
	f := mustLoad(t, src)
	var out []string
	for _, x := range f.Check(f.ProjectSizes(nil)) {
		out = append(out, x.Format("fleet.yaml"))
	}
	return out
}

// TestCheckFixture: the test fleet breaks exactly the rules it should.
func TestCheckFixture(t *testing.T) {
	got := strings.Join(findings(t, testdata(t)), "\n")
	want := strings.Join([]string{
		"fleet.yaml:27: error [replicas] archlinux: 1 active node(s) of the 2 it needs (ziply.mm.example.net)",
		"fleet.yaml:28: error [replicas] debian: 2 active node(s) of the 3 it needs (ziply.mm.example.net, sonic.mm.example.net)",
		"fleet.yaml:30: error [replicas] epel-amd64: 1 active node(s) of the 2 it needs (sonic.mm.example.net)",
		"fleet.yaml:33: error [replicas] gimp: 0 active node(s) of the 2 it needs (none)",
		"fleet.yaml:35: error [replicas] videolan: 1 active node(s) of the 2 it needs (ziply.mm.example.net)",
		"fleet.yaml:79: warning [registrations] oldnet.mm.example.net: retired but live in debian's mirror list: ask for its removal",
	}, "\n")
	if got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
}

// TestCheckRules: each rule, broken on purpose, names the node, the rule
// and the line.
func TestCheckRules(t *testing.T) {
	base := testdata(t)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"asn", "asn: 64501", "asn: AS64500", "fleet.yaml:50: error [asn] sonic.mm.example.net: AS64500 is also ziply.mm.example.net's network; at most one node per ASN"},
		{"asn missing", "    asn: 64501\n", "", "error [asn] sonic.mm.example.net: required"},
		{"building", "site: 200 Paul Ave, San Francisco", "site: westin building,  Seattle", `fleet.yaml:51: error [building] sonic.mm.example.net: "westin building,  Seattle" also houses ziply.mm.example.net`},
		{"retired nodes do not count", "site: Somewhere", "site: Westin Building, Seattle", ""},
		{"hostname", "  - sponsor: {slug: sonic", "  - name: sonic.example.org\n    sponsor: {slug: sonic", "error [hostname] sonic.example.org: hostname must be <sponsor-slug>.<domain>, sonic.mm.example.net"},
		{"disk", "disk: 2TB\n    nic: 1Gbit\n    projects: [archlinux", "disk: 700GB\n    nic: 1Gbit\n    projects: [archlinux",
			"fleet.yaml:45: error [disk] ziply.mm.example.net: projects need 773 GB but 630 GB of the 700 GB disk is usable with 10% headroom: archlinux 129 GB (catalog), debian 429 GB (catalog), videolan 215 GB (catalog)"},
		{"disk of auto node", "disk: 2TB\n    nic: 1Gbit\n    projects: auto\n    placement", "disk: 400GB\n    nic: 1Gbit\n    projects: auto\n    placement", "fleet.yaml:56: error [disk] sonic.mm.example.net"},
		{"no disk", "    disk: 2TB\n    nic: 1Gbit\n    status: planned", "    nic: 1Gbit\n    status: planned", "error [hardware] fiberby.mm.example.net: required: the disk size"},
		{"ipv6 missing", "    ipv6: \"2001:db8:20::20\"\n", "", "fleet.yaml:47: error [addresses] sonic.mm.example.net: no static IPv6 address"},
		{"planned node without ipv6 is a warning", "    ipv6: \"2001:db8:30::30\"\n", "", "warning [addresses] fiberby.mm.example.net: no static IPv6 address"},
		{"private address", "ipv4: 192.0.2.20", "ipv4: 10.1.2.3", "fleet.yaml:48: error [addresses] sonic.mm.example.net: 10.1.2.3 is not a public address"},
		{"shared address", "ipv4: 192.0.2.20", "ipv4: 192.0.2.10", "error [addresses] sonic.mm.example.net: 192.0.2.10 is also ziply.mm.example.net's address"},
		{"country", "location: {country: US, city: San Francisco, lat: 37.72, lon: -122.39}", "location: {city: San Francisco}",
			"fleet.yaml:52: error [location] sonic.mm.example.net: required: the country"},
		{"no coordinates", "location: {country: US, city: San Francisco, lat: 37.72, lon: -122.39}", "location: {country: US}",
			"fleet.yaml:52: warning [location] sonic.mm.example.net: no lat/lon"},
		{"continents", "min_nodes: 3\n", "min_nodes: 2\n    min_continents: 2\n", "error [continents] debian: active nodes on 1 continent(s) of the 2 it needs"},
		{"planned nodes are named", "status: planned\n    projects: auto", "status: planned\n    projects: [gimp]", "error [replicas] gimp: 0 active node(s) of the 2 it needs (none); planned: fiberby.mm.example.net"},
		{"registration for a project not hosted", "registrations: {archlinux: live", "registrations: {gimp: live, archlinux: live", "warning [registrations] ziply.mm.example.net: live in gimp's mirror list but does not host it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.old, tc.new, 1)
			if src == base {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			got := findings(t, src)
			baseline := findings(t, base)
			// Lines shift with the edit: compare findings without them.
			var added []string
			for _, g := range got {
				if !contains(baseline, withoutLine(g)) {
					added = append(added, g)
				}
			}
			switch {
			case tc.want == "" && len(added) > 0:
				t.Errorf("new findings: %q", added)
			case tc.want != "" && !containsPart(added, tc.want):
				t.Errorf("new findings:\n%s\nwant one containing %q", strings.Join(added, "\n"), tc.want)
			}
		})
	}
}

func withoutLine(s string) string {
	_, rest, _ := strings.Cut(s, ": ")
	return rest
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if withoutLine(x) == s {
			return true
		}
	}
	return false
}

func containsPart(list []string, part string) bool {
	for _, x := range list {
		if strings.Contains(x, part) {
			return true
		}
	}
	return false
}

// TestCheckScales: a thousand-node inventory checks quickly enough to run
// before every render (no quadratic line lookups).
func TestCheckThousandNodes(t *testing.T) {
	var b strings.Builder
	b.WriteString("domain: mm.example.net\noperator: {name: X, contact: noc@mm.example.net}\nupstream: {host: up.example.net, root: /srv}\nprojects: {debian: {}, archlinux: {}}\nnodes:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "  - {sponsor: {slug: s%d, name: S}, asn: %d, site: b%d, ipv4: 192.0.2.1, ipv6: \"2001:db8::%x\", location: {country: US, lat: 40, lon: -100}, disk: 2TB, nic: 1Gbit, projects: [debian]}\n", i, 64500+i, i, i)
	}
	got := findings(t, b.String())
	if len(got) != 1000 { // 999 shared IPv4 addresses and archlinux without nodes
		t.Errorf("%d findings, first %q", len(got), got[:2])
	}
}
