// Package inventory is the fleet operator's one source of truth, fleet.yaml:
// the fleet's domain, upstream, broker and watchtower, the projects it
// mirrors with their policies, and every node with its sponsor, addresses,
// fault domains (ASN, building), location, hardware, projects and
// registrations. It loads and validates the file (errors name the key and
// line) and checks the fleet's rules; rendering, placement and
// registration lists are built on it.
package inventory

import (
	"github.com/goccy/go-yaml/ast"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/yamlconf"
)

// Fleet is fleet.yaml.
type Fleet struct {
	// Domain is the fleet's DNS domain; nodes are <sponsor-slug>.<domain>.
	Domain   string   `yaml:"domain"`
	Operator Operator `yaml:"operator"`
	Upstream Upstream `yaml:"upstream"`
	MQTT     MQTT     `yaml:"mqtt"`
	// Watchtower is where nodes push telemetry and where the fleet tools
	// read measured sizes and demand.
	Watchtower Watchtower `yaml:"watchtower"`
	// Node holds node.yaml keys every rendered node gets (listen, limits,
	// sync, tls...); a node's own `node:` overrides them.
	Node ast.Node `yaml:"node"`
	// HeadroomPercent of each node's disk stays free beyond its projects.
	HeadroomPercent float64 `yaml:"headroom_percent"`
	// MinNodes is the default number of active nodes each project needs.
	MinNodes int  `yaml:"min_nodes"`
	Plan     Plan `yaml:"plan"`
	// Projects is the fleet's portfolio: what it mirrors, by catalog name
	// (or a name of the operator's own with a source), with policy and
	// node config overrides.
	Projects map[string]*Project `yaml:"projects"`
	Nodes    []*Node             `yaml:"nodes"`
	// Deploy is how fleet deploy reaches the hosts (deploy.go).
	Deploy *Deploy `yaml:"deploy"`
	// Layout names a fleet's own scheme of URL paths, rsync modules and
	// upstream paths (catalog.LayoutOf; "fcix"); empty: the catalog's.
	Layout string `yaml:"layout"`

	// path is the file the fleet was loaded from; src its text (for line
	// numbers and edits).
	path string
	src  []byte
}

// Operator is the fleet operator: named on every page as the contact.
type Operator struct {
	Name    string `yaml:"name"`
	URL     string `yaml:"url"`
	Contact string `yaml:"contact"` // e-mail or URL; never the sponsor's
	Donate  string `yaml:"donate"`
}

// Upstream is the fleet's big rsync mirror ("heavy iron").
type Upstream struct {
	// Host is the rsync host nodes sync from and the <upstream-host> of
	// the MQTT topics.
	Host string `yaml:"host"`
	// Root is where the upstream keeps module trees (root/<module>), for
	// the announcer's module list; Paths names the exceptions.
	Root  string            `yaml:"root"`
	Paths map[string]string `yaml:"paths"`
}

// MQTT is the broker every node subscribes to. The password of Username
// comes from the secrets file.
type MQTT struct {
	Broker   string `yaml:"broker"`
	Username string `yaml:"username"`
	// CAFile is a path on the nodes (rendered as is).
	CAFile string `yaml:"ca_file"`
}

// Watchtower is the fleet's telemetry collector.
type Watchtower struct {
	// URL is its base URL (https://watchtower.example.net); nodes push to
	// URL/api/v1/ingest.
	URL string `yaml:"url"`
	// CAFile is a path on the nodes to trust a private CA (rendered as is).
	CAFile string `yaml:"ca_file"`
}

// Plan tunes `fleet plan`.
type Plan struct {
	// MinGain is the least expected gain in bytes served per day that
	// justifies a change (a change costs an initial sync and a
	// registration).
	MinGain yamlconf.ByteSize `yaml:"min_gain"`
	// UtilisationPercent of each node's NIC is the most the plan expects
	// it to serve.
	UtilisationPercent float64 `yaml:"utilisation_percent"`
	// Overlap is how much two hosts of a project in the same country share
	// its audience (0: not at all, 1: fully); across borders it decays
	// with distance over RadiusKM.
	Overlap  float64 `yaml:"overlap"`
	RadiusKM float64 `yaml:"radius_km"`
	// Days of watchtower demand to average.
	Days int `yaml:"days"`
	// MaxProjects is the most projects the planner gives a node: each is
	// another sync from the upstream and another registration.
	MaxProjects int `yaml:"max_projects"`
}

// Project is one project of the portfolio: policy, and overrides of the
// node config's project entry (path, source, exclude, bwlimit, ...).
type Project struct {
	nodeconfig.Project `yaml:",inline"`
	// MinNodes overrides the fleet's min_nodes (0 is a valid choice);
	// MinContinents the continents its active nodes must span.
	MinNodes      *int `yaml:"min_nodes"`
	MinContinents int  `yaml:"min_continents"`
	// Size overrides the catalog's (and the watchtower's measured) size.
	Size yamlconf.ByteSize `yaml:"size"`
	// Demand is the bytes per day a node hosting the project is expected
	// to serve, for planning before any node has served it.
	Demand yamlconf.ByteSize `yaml:"demand"`
	// MirrorList and Registration override the catalog's links.
	MirrorList   string `yaml:"mirror_list"`
	Registration string `yaml:"registration"`
}

// Node statuses.
const (
	Planned = "planned"
	Active  = "active"
	Retired = "retired"
)

// Registration states of a node with a project.
const (
	Pending   = "pending"
	Submitted = "submitted"
	Live      = "live"
)

// Node is one mirror node.
type Node struct {
	// Name is the public hostname; it defaults to <sponsor.slug>.<domain>.
	Name    string  `yaml:"name"`
	Sponsor Sponsor `yaml:"sponsor"`
	// Status is planned, active (default) or retired.
	Status string `yaml:"status"`
	IPv4   string `yaml:"ipv4"`
	IPv6   string `yaml:"ipv6"`
	// ASN is the hosting network's AS number (64500 or "AS64500").
	ASN ASN `yaml:"asn"`
	// Site is the building the node is in (a fault domain).
	Site     string            `yaml:"site"`
	Location Location          `yaml:"location"`
	Disk     yamlconf.ByteSize `yaml:"disk"`
	NIC      yamlconf.Bitrate  `yaml:"nic"`
	// Projects is the operator's list, or "auto" for the planner's, kept
	// in Placement.
	Projects  ProjectList `yaml:"projects"`
	Placement []string    `yaml:"placement"`
	// Registrations is the state per project: pending (default),
	// submitted or live.
	Registrations map[string]string `yaml:"registrations"`
	// Node holds node.yaml keys for this node only.
	Node ast.Node `yaml:"node"`
	// SSH is where fleet deploy logs in (default the node's name; a host,
	// user@host or an alias of ~/.ssh/config); Deploy overrides the
	// fleet's deploy settings for this node.
	SSH    string  `yaml:"ssh"`
	Deploy *Deploy `yaml:"deploy"`

	// index is the node's position in the file, for error paths.
	index int
}

// Sponsor is the network hosting a node.
type Sponsor struct {
	// Slug is the hostname label: <slug>.<domain>.
	Slug string `yaml:"slug"`
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// Location is where a node is: country (ISO 3166-1 alpha-2) and position.
type Location struct {
	Country string   `yaml:"country"`
	City    string   `yaml:"city"`
	Lat     *float64 `yaml:"lat"`
	Lon     *float64 `yaml:"lon"`
}

// Hosted returns the projects the node serves now: the operator's list,
// or the planner's placement for an auto node.
func (n *Node) Hosted() []string {
	if n.Projects.Auto {
		return n.Placement
	}
	return n.Projects.Names
}

// Field is the key path of one of the node's fields, for error lines.
func (n *Node) Field(key string) string {
	p := "nodes[" + itoa(n.index) + "]"
	if key != "" {
		p += "." + key
	}
	return p
}

// Index is the node's position in the file's list.
func (n *Node) Index() int { return n.index }

// Path is the file the fleet came from.
func (f *Fleet) Path() string { return f.path }

// Source is the text of the file the fleet came from.
func (f *Fleet) Source() []byte { return f.src }

// Live returns the nodes that are not retired, in file order.
func (f *Fleet) Live() []*Node {
	var out []*Node
	for _, n := range f.Nodes {
		if n.Status != Retired {
			out = append(out, n)
		}
	}
	return out
}

// NodeByName finds a node by hostname.
func (f *Fleet) NodeByName(name string) *Node {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}
