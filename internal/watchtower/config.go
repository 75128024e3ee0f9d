package watchtower

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"micromirror/internal/geo"
	"micromirror/internal/yamlconf"
)

// Config is watchtower.yaml.
type Config struct {
	// Listen is the API and ingest address.
	Listen   string `yaml:"listen"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// DB is a SQLite file path, or a postgres:// URL for large fleets.
	DB    string       `yaml:"db"`
	Nodes []NodeConfig `yaml:"nodes"`
	// NodesFile holds more nodes, in a file of their own (`micromirror
	// fleet render` writes watchtower/nodes.yaml).
	NodesFile string      `yaml:"nodes_file"`
	Alerts    AlertConfig `yaml:"alerts"`
	// ProbeEvery is how often the nodes are probed (default 5m).
	ProbeEvery yamlconf.Duration `yaml:"probe_every"`
	Retention  Retention         `yaml:"retention"`
	// MQTT hears the upstream's announcements to measure node lag.
	MQTT MQTTConfig `yaml:"mqtt"`
	// OperatorTokenSHA256 is the SHA-256 of the operator's token, which
	// the operator's views and APIs (node pages, alerts, usage, /metrics)
	// want as a bearer token or a basic-auth password. Unset, only the
	// public status page and ingest are served.
	OperatorTokenSHA256 string `yaml:"operator_token_sha256"`
}

// MQTTConfig is the watchtower's subscription to announcements.
type MQTTConfig struct {
	Broker       string   `yaml:"broker"`
	Topics       []string `yaml:"topics"` // default rsync/+/#
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	CAFile       string   `yaml:"ca_file"`
}

// Retention says how long data is kept at which resolution.
type Retention struct {
	// Minutes of per-minute traffic (default 14 days); older minute rows
	// are deleted, their counts kept in the hourly and daily rows.
	Minutes yamlconf.Duration `yaml:"minutes"`
	// Hours of hourly and daily traffic (default 2 years); older data is
	// deleted.
	Hours yamlconf.Duration `yaml:"hours"`
}

// NodeConfig is a node allowed to push. Only the token's SHA-256 is
// stored: a leaked config does not let anyone post as a node.
type NodeConfig struct {
	Name        string `yaml:"name"`
	TokenSHA256 string `yaml:"token_sha256"`
	// Sponsor groups usage by hosting network (usage?group=sponsor) and
	// is credited on the overview and the node's sponsor page, linked to
	// SponsorURL.
	Sponsor    string `yaml:"sponsor"`
	SponsorURL string `yaml:"sponsor_url,omitempty"`
	// Country is where the node is (ISO 3166-1 alpha-2), for the overview.
	Country string `yaml:"country,omitempty"`
	// Probes are base URLs the watchtower checks the node at
	// (http://name/ and https://name/).
	Probes []string `yaml:"probes"`
	// Projects are the node's projects that are not in the catalog:
	// telemetry naming other projects is ignored.
	Projects []string `yaml:"projects,omitempty"`
}

// IsPostgres reports whether DB names a PostgreSQL database.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// HashToken returns the hex SHA-256 of a token, as token_sha256 wants it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return hex.EncodeToString(sum[:])
}

// LoadConfig reads and checks a watchtower config.
func LoadConfig(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c := Config{Listen: "127.0.0.1:9443", Retention: Retention{Minutes: yamlconf.Dur(14 * 24 * time.Hour), Hours: yamlconf.Dur(2 * 365 * 24 * time.Hour)}}
	if err := yamlconf.Decode(path, src, &c); err != nil {
		return Config{}, err
	}
	base := filepath.Dir(path)
	paths := []*string{&c.CertFile, &c.KeyFile, &c.MQTT.PasswordFile, &c.MQTT.CAFile, &c.NodesFile}
	if !c.IsPostgres() {
		paths = append(paths, &c.DB)
	}
	for _, p := range paths {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	var errs []*yamlconf.FieldError // each located at its key's line
	bad := func(k, f string, a ...any) {
		errs = append(errs, &yamlconf.FieldError{Field: k, Msg: fmt.Sprintf(f, a...)})
	}
	if c.DB == "" {
		bad("db", "required: a SQLite file path or a postgres:// URL")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		bad("cert_file", "cert_file and key_file go together")
	}
	for _, d := range []struct {
		k string
		v yamlconf.Duration
	}{{"alerts.every", c.Alerts.Every}, {"alerts.silent", c.Alerts.Silent}, {"alerts.stale", c.Alerts.Stale},
		{"retention.minutes", c.Retention.Minutes}, {"retention.hours", c.Retention.Hours}, {"probe_every", c.ProbeEvery}} {
		if err := d.v.Err(); err != nil {
			bad(d.k, "%v", err)
		}
	}
	if c.Alerts.Webhook != "" && !strings.HasPrefix(c.Alerts.Webhook, "http://") && !strings.HasPrefix(c.Alerts.Webhook, "https://") {
		bad("alerts.webhook", "%q is not an http(s) URL", c.Alerts.Webhook)
	}
	if c.OperatorTokenSHA256 != "" {
		if b, err := hex.DecodeString(c.OperatorTokenSHA256); err != nil || len(b) != sha256.Size {
			bad("operator_token_sha256", "want the 64 hex digits of sha256(token): micromirror watchtower -hash-token < token")
		}
	}
	seen := map[string]bool{}
	errs = append(errs, checkNodes(c.Nodes, seen)...)
	all := []error{yamlconf.Locate(path, src, errs)}
	if c.NodesFile != "" {
		more, nsrc, err := readNodes(c.NodesFile)
		all = append(all, err, yamlconf.Locate(c.NodesFile, nsrc, checkNodes(more, seen)))
		c.Nodes = append(c.Nodes, more...)
	}
	return c, errors.Join(all...)
}

// NodesFile is the file of nodes_file: the nodes allowed to push.
type NodesFile struct {
	Nodes []NodeConfig `yaml:"nodes"`
}

// LoadNodes reads a nodes file; duplicates and bad values are LoadConfig's
// to report, with the other nodes in view.
func LoadNodes(path string) ([]NodeConfig, error) {
	nodes, _, err := readNodes(path)
	return nodes, err
}

// readNodes reads a nodes file and returns its source too, for the
// lines of the errors found in it.
func readNodes(path string) ([]NodeConfig, []byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read nodes file: %w", err)
	}
	var f NodesFile
	if err := yamlconf.Decode(path, src, &f); err != nil {
		return nil, src, err
	}
	return f.Nodes, src, nil
}

// CheckNodes validates the node list read from path as the watchtower
// does at start, each error at its line of the file.
func CheckNodes(path string, nodes []NodeConfig) error {
	src, _ := os.ReadFile(path) // for the lines only
	return yamlconf.Locate(path, src, checkNodes(nodes, map[string]bool{}))
}

// checkNodes validates a file's nodes (its nodes[i]); seen carries the
// names of nodes already read, so a node listed twice is caught across
// files.
func checkNodes(nodes []NodeConfig, seen map[string]bool) []*yamlconf.FieldError {
	var errs []*yamlconf.FieldError
	bad := func(k, f string, a ...any) {
		errs = append(errs, &yamlconf.FieldError{Field: k, Msg: fmt.Sprintf(f, a...)})
	}
	for i := range nodes {
		n := nodes[i]
		nodes[i].Country = strings.ToUpper(n.Country) // as the overview shows it
		if n.Name == "" || seen[n.Name] {
			bad(fmt.Sprintf("nodes[%d].name", i), "missing or duplicate %q", n.Name)
		}
		seen[n.Name] = true
		for j, u := range n.Probes {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				bad(fmt.Sprintf("nodes[%d].probes[%d]", i, j), "%q is not an http(s) URL", u)
			}
		}
		if n.SponsorURL != "" && !strings.HasPrefix(n.SponsorURL, "http://") && !strings.HasPrefix(n.SponsorURL, "https://") {
			bad(fmt.Sprintf("nodes[%d].sponsor_url", i), "%q is not an http(s) URL", n.SponsorURL)
		}
		if _, ok := geo.Continent(n.Country); n.Country != "" && !ok {
			bad(fmt.Sprintf("nodes[%d].country", i), "%q is not an ISO 3166-1 alpha-2 country code", n.Country)
		}
		if b, err := hex.DecodeString(n.TokenSHA256); err != nil || len(b) != sha256.Size {
			bad(fmt.Sprintf("nodes[%d].token_sha256", i), "want the 64 hex digits of sha256(token): micromirror watchtower -hash-token < token")
		}
	}
	return errs
}
