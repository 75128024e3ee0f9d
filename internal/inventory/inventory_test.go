package inventory

import (
	"os"
	"slices"
	"strings"
	"testing"

	"micromirror/internal/catalog"
)

func mustLoad(tb testing.TB, src string) *Fleet {
	tb.Helper()
	f, err := Parse("fleet.yaml", []byte(src))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return f
}

func testdata(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/fleet.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestLoadDerivesNamesAndPlacement(t *testing.T) {
	f := mustLoad(t, testdata(t))
	var names []string
	for _, n := range f.Nodes {
		names = append(names, n.Name+"/"+n.Status)
	}
	if got, want := strings.Join(names, " "), "ziply.mm.example.net/active sonic.mm.example.net/active fiberby.mm.example.net/planned oldnet.mm.example.net/retired"; got != want {
		t.Errorf("nodes = %s, want %s", got, want)
	}
	sonic := f.NodeByName("sonic.mm.example.net")
	if !sonic.Projects.Auto || !slices.Equal(sonic.Hosted(), []string{"debian", "epel-amd64"}) {
		t.Errorf("sonic hosts %v (auto %v)", sonic.Hosted(), sonic.Projects.Auto)
	}
	if got := f.NodeByName("ziply.mm.example.net").ASN.Number(); got != 64500 {
		t.Errorf("AS64500 parsed as %d", got)
	}
	if f.MinNodesOf("debian") != 3 || f.MinNodesOf("gimp") != 2 {
		t.Errorf("min nodes %d %d", f.MinNodesOf("debian"), f.MinNodesOf("gimp"))
	}
	if got := len(f.Live()); got != 3 {
		t.Errorf("%d live nodes", got)
	}
}

// TestParseErrors: each bad value is reported with its file, line and key.
func TestParseErrors(t *testing.T) {
	base := testdata(t)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown key", "headroom_percent: 10", "headroom_percnt: 10", `fleet.yaml:24:1: unknown field "headroom_percnt"`},
		{"domain", "domain: mm.example.net", "domain: MM.example", "fleet.yaml:2: domain: "},
		{"contact", "contact: noc@mm.example.net", "contact: the noc", "fleet.yaml:6: operator.contact: "},
		{"asn", "asn: 64501", "asn: sixty", `fleet.yaml:50: nodes[1].asn: "sixty" is not an AS number`},
		{"country", "country: DK", "country: Denmark", "fleet.yaml:65: nodes[2].location.country: "},
		{"lat without lon", "lat: 55.67, lon: 12.57", "lat: 55.67", "fleet.yaml:65: nodes[2].location: lat and lon go together"},
		{"disk", "disk: 1TB", "disk: one", `fleet.yaml:75: nodes[3].disk: not a size`},
		{"nic", "nic: 1Gbit\n    projects: auto\n    placement", "nic: fast\n    projects: auto\n    placement", `fleet.yaml:54: nodes[1].nic: not a rate`},
		{"status", "status: planned", "status: soon", `fleet.yaml:68: nodes[2].status: "soon": want planned, active or retired`},
		{"undeclared project", "projects: [archlinux, debian, videolan]", "projects: [archlinux, ubuntu]", `fleet.yaml:45: nodes[0].projects[1]: "ubuntu" is not in the fleet's projects`},
		{"projects word", "    projects: auto\n    placement", "    projects: all\n    placement", `fleet.yaml:55: nodes[1].projects: "all": want a list`},
		{"placement on a fixed node", "registrations: {archlinux: live, debian: submitted}", "placement: [gimp]", `nodes[0].placement: only for nodes with projects: auto`},
		{"registration state", "debian: submitted}", "debian: done}", `fleet.yaml:46: nodes[0].registrations.debian: "done": want pending`},
		{"duplicate slug", "slug: sonic", "slug: ziply", `nodes[1].sponsor.slug: hostname ziply.mm.example.net is already nodes[0]'s`},
		{"project override", "bwlimit: 100Mbit", "bwlimit: fast", `fleet.yaml:32: projects.epel-amd64.bwlimit: not a rate`},
		{"custom project without size", "videolan: {}", "mylinux: {source: \"rsync://up.example.net/mylinux\"}", `projects.mylinux.size: required`},
		{"node override", "rate_limit: {per_second: 50, burst: 200}", "rate_limit: {per_second: 50, burst: 0}", `fleet.yaml:59: nodes[1].node.limits.rate_limit.burst: must be at least 1`},
		{"fleet node override", "schedule: 12h", "schedule: 10s", `fleet.yaml:23: node.sync.schedule: must be at least 1m0s`},
		{"unknown node key", "schedule: 12h", "schedul: 12h", `fleet.yaml:23:5: unknown field "schedul"`},
		{"owned key", "schedule: 12h", "schedule: 12h\n  upstream: other.example.net", `fleet.yaml:24: node.upstream: set by the fleet from upstream.host`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.old, tc.new, 1)
			if src == base {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			_, err := Parse("fleet.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := Parse("fleet.yaml", []byte(" \n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
}

func TestNodeConfig(t *testing.T) {
	f := mustLoad(t, testdata(t))
	sonic, err := f.NodeConfig(f.NodeByName("sonic.mm.example.net"))
	if err != nil {
		t.Fatal(err)
	}
	if sonic.Name != "sonic.mm.example.net" || sonic.Sponsor.Name != "Sonic" || sonic.Contact != "noc@mm.example.net" ||
		sonic.Fleet.Name != "Example Micro Mirrors" || sonic.Upstream != "mirror.example.net" {
		t.Errorf("identity: %+v %+v %q %+v %q", sonic.Name, sonic.Sponsor, sonic.Contact, sonic.Fleet, sonic.Upstream)
	}
	if sonic.Limits.RateLimit.PerSecond != 50 || sonic.Sync.Schedule.D().Hours() != 12 || sonic.Limits.MaxConnections != 4096 {
		t.Errorf("layers: rate %+v schedule %v max conns %d", sonic.Limits.RateLimit, sonic.Sync.Schedule.D(), sonic.Limits.MaxConnections)
	}
	if sonic.TLS.ACME == nil || sonic.TLS.ACME.Email != "noc@mm.example.net" {
		t.Errorf("tls %+v", sonic.TLS)
	}
	if sonic.Telemetry.URL != "https://watchtower.mm.example.net/api/v1/ingest" || sonic.Telemetry.TokenFile != TokenFile ||
		sonic.MQTT.Username != "node" || sonic.MQTT.PasswordFile != MQTTPasswordFile {
		t.Errorf("telemetry %+v mqtt %+v", sonic.Telemetry, sonic.MQTT)
	}
	if len(sonic.Projects) != 2 || sonic.Projects[1].Name != "epel-amd64" || sonic.Projects[1].Path != "epel" ||
		sonic.Projects[1].Bwlimit.BitsPerSecond() != 100e6 {
		t.Fatalf("projects %+v", sonic.Projects)
	}
	// An empty portfolio entry must keep the catalog's lists, not empty them.
	if deb := sonic.Projects[0]; deb.Exclude != nil || deb.Triggers != nil || deb.Manifests != nil {
		t.Errorf("debian overrides the catalog with empty lists: %+v", deb)
	}
	ziply, _ := f.NodeConfig(f.NodeByName("ziply.mm.example.net"))
	if ziply.Limits.RateLimit.PerSecond != 20 {
		t.Errorf("sonic's override leaked into ziply: %+v", ziply.Limits.RateLimit)
	}
}

func TestProjectSizes(t *testing.T) {
	f := mustLoad(t, strings.Replace(testdata(t), "demand: 300GB", "demand: 300GB\n    size: 77GB", 1))
	sizes := f.ProjectSizes(map[string]int64{"debian": 420e9, "gimp": 1})
	deb, _ := catalog.Lookup("archlinux")
	for name, want := range map[string]Size{
		"debian": {420e9, "measured"}, "gimp": {77e9, "inventory"}, "archlinux": {deb.SizeBytes, "catalog"},
	} {
		if got := sizes[name]; got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
}

// FuzzParse: any inventory text loads or gives an error, never a panic;
// what loads checks and builds node configs without a panic too.
func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/fleet.yaml")
	f.Add(string(b))
	f.Add("domain: a.b\noperator: {name: x, contact: a@b.c}\nupstream: {host: u, root: /}\nprojects: {debian: {min_nodes: 0}}\nnodes: [{sponsor: {slug: s, name: S}, projects: auto, placement: [debian]}]\n")
	f.Add("nodes: [~, {projects: [1, 2]}, {asn: AS}]\n")
	f.Fuzz(func(t *testing.T, src string) {
		fl, err := Parse("fuzz.yaml", []byte(src))
		if err != nil {
			return
		}
		fl.Check(fl.ProjectSizes(nil))
		for _, n := range fl.Live() {
			fl.NodeConfig(n)
		}
	})
}

func TestDeployValidated(t *testing.T) {
	src := testdata(t) + `deploy:
  config_dir: etc/micromirror
  watchtower: {ssh: wt.example.net, path: nodes.yaml, reload: "systemctl reload micromirror-watchtower"}
`
	_, err := Parse("fleet.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "deploy.config_dir") || !strings.Contains(err.Error(), "deploy.watchtower.path") {
		t.Errorf("bad deploy settings: %v", err)
	}
}
