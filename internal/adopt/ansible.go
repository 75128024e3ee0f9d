// Package adopt takes over a fleet that already runs: it reads the
// Ansible inventory the Micro Mirrors (and fleets built like them) deploy
// with, writes a fleet inventory that reproduces every node's URLs, rsync
// modules, sources and topics, and compares the two.
package adopt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"micromirror/internal/catalog"
	"micromirror/internal/yamlconf"
	"micromirror/internal/yamlpos"
)

// Ansible is an Ansible inventory in the Micro Mirrors' layout:
// inventory.yaml lists the hosts under MIRROR.hosts, host_vars/<host>.yaml
// holds each one's projects, sponsor and location, and the templates name
// the upstream and the broker.
type Ansible struct {
	Dir   string
	Hosts []Host
	// Upstream is the rsync host the update script pulls from (UPSTREAM=
	// in templates/update-mirror.sh); Broker the MQTT host mqtt-exec
	// subscribes to (files/systemd.mqtt-exec.service). Empty: not found.
	Upstream, Broker string
	BrokerPort       string
	// Bwlimit is the update script's standard --bwlimit in bytes per
	// second (RSYNC_ARGS), 0 if none.
	Bwlimit int64
}

// Host is one host's variables.
type Host struct {
	Name     string
	File     string // its host_vars file
	Projects []string
	// ProjectLines are the lines of hostedprojects' entries, for errors.
	ProjectLines []int
	Sponsor      string
	SponsorURL   string
	TLS          bool
	Country      string // ISO 3166-1 alpha-2, upper case
	City         string
	Region       string
	NoDSCP       bool
	SSHPort      int
	// Unknown are host_vars keys the import does not carry over.
	Unknown []string
}

// hostVars are the keys of a host_vars file the import reads; both
// location forms occur (a geolocation map in later files, flat keys in
// earlier ones).
type hostVars struct {
	HostedProjects []string `yaml:"hostedprojects"`
	TLSSetup       *bool    `yaml:"tls_setup"`
	SiteSponsor    string   `yaml:"site_sponsor"`
	SiteSponsorURL string   `yaml:"site_sponsor_url"`
	Geolocation    struct {
		Continent     string `yaml:"continent"`
		Country       string `yaml:"country"`
		StateProvince string `yaml:"state_province"`
		City          string `yaml:"city"`
	} `yaml:"geolocation"`
	Continent   string `yaml:"continent"`
	Country     string `yaml:"country"`
	Region      string `yaml:"region"`
	City        string `yaml:"city"`
	DisableDSCP bool   `yaml:"disableDSCP"`
	AnsiblePort int    `yaml:"ansible_port"`
}

var known = map[string]bool{"hostedprojects": true, "tls_setup": true, "site_sponsor": true, "site_sponsor_url": true,
	"geolocation": true, "continent": true, "country": true, "region": true, "city": true, "disableDSCP": true, "ansible_port": true}

// countryCodes are the names host_vars use that are not ISO codes.
var countryCodes = map[string]string{"UK": "GB", "USA": "US"}

// ReadAnsible reads an inventory directory. Every problem is reported
// with its file and line, all of them at once; nothing is returned then.
func ReadAnsible(dir string) (*Ansible, error) {
	inv, src, err := readFirst(dir, "inventory.yaml", "inventory.yml", "hosts.yaml", "hosts.yml")
	if err != nil {
		return nil, err
	}
	var groups map[string]struct {
		Hosts map[string]any `yaml:"hosts"`
	}
	if err := yamlconf.DecodeLoose(inv, src, &groups); err != nil { // groups may have vars and children too
		return nil, err
	}
	group, ok := groups["MIRROR"]
	if !ok || len(group.Hosts) == 0 {
		return nil, fmt.Errorf("%s: no hosts under MIRROR.hosts (the Micro Mirrors' layout)", inv)
	}
	a := &Ansible{Dir: dir}
	if abs, err := filepath.Abs(dir); err == nil {
		a.Dir = abs
	}
	var errs []error
	names := make([]string, 0, len(group.Hosts))
	for h := range group.Hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, name := range names {
		if !yamlconf.IsHostname(name) {
			errs = append(errs, fmt.Errorf("%s:%d: host %q is not a lowercase hostname", inv, lineOfKey(src, name), name))
			continue
		}
		h, err := readHost(dir, name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("%s:%d: host %s has no host_vars/%s.yaml", inv, lineOfKey(src, name), name, name)
			}
			errs = append(errs, err)
			continue
		}
		a.Hosts = append(a.Hosts, h)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	script := filepath.Join(dir, "templates/update-mirror.sh")
	a.Upstream = grep(script, upstreamRE)
	for _, w := range shellWords(grep(script, rsyncArgsRE)) {
		if v, ok := strings.CutPrefix(w, "--bwlimit="); ok {
			a.Bwlimit = rsyncRate(v)
		}
	}
	mqttExec := filepath.Join(dir, "files/systemd.mqtt-exec.service")
	a.Broker = grep(mqttExec, regexp.MustCompile(`mqtt-exec.*\s-h\s+([A-Za-z0-9.-]+)`))
	a.BrokerPort = grep(mqttExec, regexp.MustCompile(`mqtt-exec.*\s-p\s+([0-9]+)`))
	return a, nil
}

func readHost(dir, name string) (Host, error) {
	file, src, err := readFirst(filepath.Join(dir, "host_vars"), name+".yaml", name+".yml")
	if err != nil {
		return Host{}, err
	}
	return parseHost(name, file, src)
}

// parseHost reads one host_vars file's text.
func parseHost(name, file string, src []byte) (Host, error) {
	// Unknown keys are listed, not refused: host_vars carry Ansible's own.
	var v hostVars
	if err := yamlconf.DecodeLoose(file, src, &v); err != nil {
		return Host{}, err
	}
	var all map[string]any
	if err := yamlconf.DecodeLoose(file, src, &all); err != nil {
		return Host{}, err
	}
	h := Host{Name: name, File: file, Sponsor: strings.TrimSpace(v.SiteSponsor), SponsorURL: strings.TrimSpace(v.SiteSponsorURL),
		TLS: v.TLSSetup == nil || *v.TLSSetup, NoDSCP: v.DisableDSCP, SSHPort: v.AnsiblePort}
	for k := range all {
		if !known[k] {
			h.Unknown = append(h.Unknown, k)
		}
	}
	sort.Strings(h.Unknown)
	syntax := yamlconf.Syntax(src)
	var errs []error
	if len(v.HostedProjects) == 0 {
		errs = append(errs, fmt.Errorf("%s:%d: hostedprojects: the host hosts nothing", file, yamlpos.LineOf(syntax, "hostedprojects")))
	}
	for i, p := range v.HostedProjects {
		line := yamlpos.LineOf(syntax, fmt.Sprintf("hostedprojects[%d]", i))
		if _, ok := catalog.Lookup(p); !ok {
			errs = append(errs, fmt.Errorf("%s:%d: hostedprojects[%d]: %q is not a project micromirror knows (micromirror node catalog)", file, line, i, p))
			continue
		}
		h.Projects = append(h.Projects, p)
		h.ProjectLines = append(h.ProjectLines, line)
	}
	country, city := v.Geolocation.Country, v.Geolocation.City
	h.Region = v.Geolocation.StateProvince
	if country == "" {
		country, city, h.Region = v.Country, v.City, v.Region
	}
	if country != "" {
		c := strings.ToUpper(strings.TrimSpace(country))
		if iso, ok := countryCodes[c]; ok {
			c = iso
		}
		if len(c) != 2 {
			errs = append(errs, fmt.Errorf("%s:%d: country %q is not an ISO 3166-1 alpha-2 code", file, lineOfKey(src, "country"), country))
		}
		h.Country = c
	}
	h.City = strings.TrimSpace(city)
	if h.City != "" && strings.ToLower(h.City) == h.City {
		h.City = titleCase(h.City) // "albuquerque" in the earlier files
	}
	return h, errors.Join(errs...)
}

func readFirst(dir string, names ...string) (string, []byte, error) {
	for _, n := range names {
		p := filepath.Join(dir, n)
		if b, err := os.ReadFile(p); err == nil {
			return p, b, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("%s: no %s: %w", dir, strings.Join(names, " or "), os.ErrNotExist)
}

// lineOfKey is the line of the first "key:" in src (host names have dots,
// which field paths cannot address).
func lineOfKey(src []byte, key string) int {
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, key+":") || strings.HasPrefix(l, `"`+key+`":`) || strings.HasPrefix(l, "'"+key+"':") {
			return n
		}
	}
	return 0
}

// grep is the first group of re in a file, "" without the file or a match.
func grep(path string, re *regexp.Regexp) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if m := re.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

func titleCase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
