package inventory

import (
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/yamlconf"
	"micromirror/internal/yamlpos"
)

// BaseConfig is a node's node.yaml before the fleet fills in what it owns:
// the built-in defaults, then the fleet-wide `node:` keys, then the node's
// own. Errors name the file, line and key in the inventory.
func (f *Fleet) BaseConfig(n *Node) (nodeconfig.Config, error) {
	cfg := nodeconfig.Default()
	var errs []error
	for _, layer := range []struct {
		key  string
		node ast.Node
	}{{"node", f.Node}, {n.Field("node"), n.Node}} {
		if layer.node == nil {
			continue
		}
		if _, null := layer.node.(*ast.NullNode); null {
			continue
		}
		if err := yamlconf.DecodeNode(f.path, layer.node, &cfg, true); err != nil {
			errs = append(errs, err)
			continue
		}
		var probe nodeconfig.Config
		if err := yamlconf.DecodeNode(f.path, layer.node, &probe, false); err != nil {
			errs = append(errs, err)
			continue
		}
		var owned []*yamlconf.FieldError
		for _, o := range fleetOwned(probe) {
			owned = append(owned, &yamlconf.FieldError{Field: layer.key + "." + o.key,
				Msg: fmt.Sprintf("set by the fleet from %s; remove it here", o.from)})
		}
		if len(owned) > 0 {
			errs = append(errs, yamlconf.Locate(f.path, f.src, owned))
		}
	}
	return cfg, errors.Join(errs...)
}

type ownedKey struct{ key, from string }

// fleetOwned lists the node config keys a `node:` layer sets that the
// fleet derives itself, so a stray override cannot silently lose.
func fleetOwned(c nodeconfig.Config) []ownedKey {
	var out []ownedKey
	add := func(set bool, key, from string) {
		if set {
			out = append(out, ownedKey{key, from})
		}
	}
	add(c.Name != "", "name", "domain and sponsor.slug")
	add(c.Sponsor != (nodeconfig.Sponsor{}), "sponsor", "the node's sponsor")
	add(c.Contact != "", "contact", "operator.contact")
	add(c.Fleet != (nodeconfig.Fleet{}), "fleet", "operator")
	add(c.Upstream != "", "upstream", "upstream.host")
	add(c.Projects != nil, "projects", "the node's projects and the portfolio")
	add(c.MQTT.Broker != "" || c.MQTT.Username != "" || c.MQTT.PasswordFile != "", "mqtt", "mqtt and the secrets file")
	add(c.Telemetry.URL != "" || c.Telemetry.TokenFile != "", "telemetry", "watchtower and the secrets file")
	return out
}

// Where a rendered node finds its secrets, relative to its node.yaml.
const (
	TokenFile        = "secrets/telemetry.token"
	MQTTPasswordFile = "secrets/mqtt.pass"
)

// NodeConfig is the node.yaml the fleet gives a node: BaseConfig, then
// the node's identity, the operator, the upstream, the broker and the
// watchtower, and its projects with the portfolio's overrides. It is
// checked with the node's own validation; errors point at the inventory
// line that set the bad value.
func (f *Fleet) NodeConfig(n *Node) (nodeconfig.Config, error) {
	cfg, err := f.BaseConfig(n)
	if err != nil {
		return cfg, err
	}
	cfg.Name = n.Name
	cfg.Sponsor = nodeconfig.Sponsor{Name: n.Sponsor.Name, URL: n.Sponsor.URL}
	cfg.Contact = f.Operator.Contact
	cfg.Fleet = nodeconfig.Fleet{Name: f.Operator.Name, URL: f.Operator.URL, Donate: f.Operator.Donate}
	cfg.Upstream = f.Upstream.Host
	if f.MQTT.Broker != "" {
		cfg.MQTT.Broker, cfg.MQTT.Username = f.MQTT.Broker, f.MQTT.Username
		if f.MQTT.Username != "" {
			cfg.MQTT.PasswordFile = MQTTPasswordFile
		}
		if f.MQTT.CAFile != "" {
			cfg.MQTT.CAFile = f.MQTT.CAFile
		}
	}
	if f.Watchtower.URL != "" {
		cfg.Telemetry.URL = strings.TrimRight(f.Watchtower.URL, "/") + "/api/v1/ingest"
		cfg.Telemetry.TokenFile = TokenFile
		if f.Watchtower.CAFile != "" {
			cfg.Telemetry.CAFile = f.Watchtower.CAFile
		}
	}
	t := cfg.TLS
	if t.CertFile == "" && t.KeyFile == "" && t.ACME == nil && !t.SelfSigned && len(cfg.Listen.HTTPS) > 0 {
		// A public node's certificate comes from Let's Encrypt unless the
		// fleet says otherwise.
		cfg.TLS.ACME = &nodeconfig.ACME{}
		if _, err := mail.ParseAddress(f.Operator.Contact); err == nil {
			cfg.TLS.ACME.Email = f.Operator.Contact
		}
	}
	for _, name := range n.Hosted() {
		cfg.Projects = append(cfg.Projects, f.ProjectEntry(name))
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return cfg, f.locateNodeErrors(n, cfg, errs)
	}
	return cfg, nil
}

// locateNodeErrors points each error of a rendered node config at the
// inventory key that set the value: the node's `node:`, the fleet's
// `node:`, or the portfolio entry of a project.
func (f *Fleet) locateNodeErrors(n *Node, cfg nodeconfig.Config, errs []*yamlconf.FieldError) error {
	file := f.syntax()
	out := make([]*yamlconf.FieldError, 0, len(errs))
	for _, fe := range errs {
		field := ""
		for _, cand := range []string{n.Field("node") + "." + fe.Field, "node." + fe.Field} {
			if yamlpos.KeyLine(file, cand) > 0 {
				field = cand
				break
			}
		}
		if field == "" {
			if i, rest, ok := projectIndex(fe.Field); ok && i < len(cfg.Projects) {
				field = projectKey(cfg.Projects[i].Name) + rest
			}
		}
		msg := fe.Msg
		if field == "" {
			field = n.Field("")
			msg = fmt.Sprintf("rendered node.yaml of %s: %s: %s", n.Name, fe.Field, fe.Msg)
		}
		out = append(out, &yamlconf.FieldError{Field: field, Msg: msg})
	}
	return yamlconf.Locate(f.path, f.src, out)
}

// projectIndex splits "projects[3].bwlimit" into 3 and ".bwlimit".
func projectIndex(field string) (int, string, bool) {
	rest, ok := strings.CutPrefix(field, "projects[")
	if !ok {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(rest, "]")
	i, err := strconv.Atoi(num)
	return i, rest, ok && err == nil
}

// syntax is the parsed inventory, for line lookups.
func (f *Fleet) syntax() *ast.File { return yamlconf.Syntax(f.src) }
