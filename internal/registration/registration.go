// Package registration tells the operator, per project, what each node
// must be registered with in the project's mirror list (URLs, country,
// sponsor, bandwidth), where to register, how far each registration has
// come, and whether the project's public list agrees with the inventory.
package registration

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"micromirror/internal/catalog"
	"micromirror/internal/inventory"
)

// Row is one node's registration with one project.
type Row struct {
	Project string `json:"project"`
	Node    string `json:"node"`
	// State is pending, submitted or live; a planned node is "planned"
	// until it serves.
	State      string `json:"state"`
	Country    string `json:"country"`
	City       string `json:"city,omitempty"`
	Sponsor    string `json:"sponsor"`
	SponsorURL string `json:"sponsor_url,omitempty"`
	ASN        string `json:"asn,omitempty"`
	IPv4       string `json:"ipv4,omitempty"`
	IPv6       string `json:"ipv6,omitempty"`
	// BandwidthMbit is the node's port speed.
	BandwidthMbit int64  `json:"bandwidth_mbit"`
	HTTP          string `json:"http,omitempty"`
	HTTPS         string `json:"https,omitempty"`
	Rsync         string `json:"rsync,omitempty"`
}

// Project is a project's registration links.
type Project struct {
	Name string `json:"project"`
	// Procedure is how to register a mirror; MirrorList the public list.
	Procedure  string `json:"procedure,omitempty"`
	MirrorList string `json:"mirror_list,omitempty"`
}

// Projects gives each portfolio project its links: the inventory's, else
// the catalog's.
func Projects(f *inventory.Fleet) []Project {
	var out []Project
	for _, name := range f.ProjectNames() {
		r, _ := catalog.Lookup(name)
		p := Project{Name: name, Procedure: r.Register, MirrorList: r.MirrorList}
		if v := f.Projects[name].Registration; v != "" {
			p.Procedure = v
		}
		if v := f.Projects[name].MirrorList; v != "" {
			p.MirrorList = v
		}
		out = append(out, p)
	}
	return out
}

// Rows lists every node that is not retired with every project it hosts,
// by project then node.
func Rows(f *inventory.Fleet) ([]Row, error) {
	var out []Row
	for _, n := range f.Live() {
		cfg, err := f.NodeConfig(n)
		if err != nil {
			return nil, err
		}
		for _, p := range cfg.Projects {
			r := Row{Project: p.Name, Node: n.Name, State: n.RegistrationOf(p.Name), Country: n.Location.Country,
				City: n.Location.City, Sponsor: n.Sponsor.Name, SponsorURL: n.Sponsor.URL, ASN: n.ASN.String(),
				IPv4: n.IPv4, IPv6: n.IPv6, BandwidthMbit: n.NIC.BitsPerSecond() / 1e6}
			if n.Status == inventory.Planned {
				r.State = inventory.Planned
			}
			path := p.URLPath()
			if len(cfg.Listen.HTTP) > 0 {
				r.HTTP = "http://" + n.Name + "/" + path + "/"
			}
			if len(cfg.Listen.HTTPS) > 0 {
				r.HTTPS = "https://" + n.Name + "/" + path + "/"
			}
			if len(cfg.Listen.Rsync) > 0 {
				r.Rsync = "rsync://" + n.Name + "/" + p.RsyncPath() + "/"
			}
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out, nil
}

// Comparison is how a project's public mirror list and the inventory
// agree about the fleet's nodes.
type Comparison struct {
	Project string `json:"project"`
	URL     string `json:"url"`
	Error   string `json:"error,omitempty"`
	// Listed are the fleet's hostnames the list names.
	Listed []string `json:"listed"`
	// MarkLive: listed, but the inventory does not say live yet.
	MarkLive []string `json:"mark_live,omitempty"`
	// NotListed: live in the inventory, but not in the list.
	NotListed []string `json:"not_listed,omitempty"`
	// Unknown: listed, but the inventory has no such node hosting it.
	Unknown []string `json:"unknown,omitempty"`
	// Retired: listed, but retired: ask the project to remove it.
	Retired []string `json:"retired,omitempty"`
}

// Agrees reports whether the list and the inventory agree.
func (c Comparison) Agrees() bool {
	return c.Error == "" && len(c.MarkLive)+len(c.NotListed)+len(c.Unknown)+len(c.Retired) == 0
}

// Compare reads a project's mirror list (HTML, JSON or text alike: it
// looks for the fleet's hostnames in it) against the inventory.
func Compare(f *inventory.Fleet, project, url string, list []byte) Comparison {
	c := Comparison{Project: project, URL: url, Listed: Hostnames(list, f.Domain)}
	for _, name := range c.Listed {
		n := f.NodeByName(name)
		switch {
		case n == nil:
			c.Unknown = append(c.Unknown, name)
		case n.Status == inventory.Retired:
			c.Retired = append(c.Retired, name)
		case !slices.Contains(n.Hosted(), project):
			c.Unknown = append(c.Unknown, name)
		case n.RegistrationOf(project) != inventory.Live:
			c.MarkLive = append(c.MarkLive, name)
		}
	}
	for _, n := range f.Live() {
		if n.RegistrationOf(project) == inventory.Live && slices.Contains(n.Hosted(), project) && !slices.Contains(c.Listed, n.Name) {
			c.NotListed = append(c.NotListed, n.Name)
		}
	}
	return c
}

var hostRE = regexp.MustCompile(`(?i)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+`)

// Hostnames finds the distinct hostnames under domain in a document,
// lowercased and sorted. Entities and escaped slashes are undone first,
// so HTML and JSON lists read alike.
func Hostnames(doc []byte, domain string) []string {
	text := html.UnescapeString(strings.ReplaceAll(string(doc), `\/`, "/"))
	suffix := "." + strings.ToLower(domain)
	seen := map[string]bool{}
	for _, m := range hostRE.FindAllString(text, -1) {
		host := strings.ToLower(m)
		if strings.HasSuffix(host, suffix) && len(host) > len(suffix) {
			seen[host] = true
		}
	}
	out := make([]string, 0, len(seen))
	for h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// maxList bounds a downloaded mirror list.
const maxList = 32 << 20

// Fetch downloads a mirror list.
func Fetch(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "micromirror-fleet (mirror list check)")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxList+1))
	if err == nil && len(body) > maxList {
		err = fmt.Errorf("%s: more than %d MiB", url, maxList>>20)
	}
	return body, err
}

// CompareAll fetches the mirror list of every project that has one and a
// node hosting it, in parallel, and compares each with the inventory.
func CompareAll(ctx context.Context, f *inventory.Fleet, client *http.Client) []Comparison {
	hosted := map[string]bool{}
	for _, n := range f.Nodes {
		for _, p := range n.Hosted() {
			hosted[p] = true
		}
		for p := range n.Registrations {
			hosted[p] = true
		}
	}
	var projects []Project
	for _, p := range Projects(f) {
		if hosted[p.Name] && p.MirrorList != "" {
			projects = append(projects, p)
		}
	}
	out := make([]Comparison, len(projects))
	done := make(chan struct{})
	for i, p := range projects {
		go func() {
			defer func() { done <- struct{}{} }()
			body, err := Fetch(ctx, client, p.MirrorList)
			if err != nil {
				out[i] = Comparison{Project: p.Name, URL: p.MirrorList, Error: err.Error()}
				return
			}
			out[i] = Compare(f, p.Name, p.MirrorList, body)
		}()
	}
	for range projects {
		<-done
	}
	return out
}
