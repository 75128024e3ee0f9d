package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// FieldError is a bad value, located by its key path and line in the file.
type FieldError struct {
	File  string
	Line  int
	Field string // e.g. projects[1].bwlimit
	Msg   string
}

// Error renders "file:line: key: message".
func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if loc != "" {
		loc += ": "
	}
	return fmt.Sprintf("%s%s: %s", loc, e.Field, e.Msg)
}

// Load reads, decodes and validates a node config file. Relative paths in
// the file are taken relative to the file's directory, so a config works the
// same from any working directory.
func Load(path string) (Node, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Node{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, src)
}

// Parse decodes and validates config source; name is used in messages and
// to resolve relative paths.
func Parse(name string, src []byte) (Node, error) {
	cfg := Default()
	if strings.TrimSpace(string(src)) == "" {
		return Node{}, fmt.Errorf("%s: config is empty", name)
	}
	if err := yaml.UnmarshalWithOptions(src, &cfg, yaml.DisallowUnknownField()); err != nil {
		return Node{}, DecodeError(name, err)
	}
	base, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return Node{}, fmt.Errorf("%s: %w", name, err)
	}
	cfg.Normalize(base)
	if errs := cfg.Validate(); len(errs) > 0 {
		return Node{}, Locate(name, src, errs)
	}
	return cfg, nil
}

// Normalize does what loading a file does after decoding: relative paths
// become relative to base (the file's directory) and MQTT defaults that
// depend on other keys are filled in.
func (c *Node) Normalize(base string) {
	c.resolvePaths(base)
	c.mqttDefaults()
}

// Locate gives each field error the file name and the line of its key in
// src (or of its nearest parent that is there), and joins them.
func Locate(name string, src []byte, errs []*FieldError) error {
	file, _ := parser.ParseBytes(src, 0)
	out := make([]error, 0, len(errs))
	for _, fe := range errs {
		fe.File = name
		fe.Line = LineOf(file, fe.Field)
		out = append(out, fe)
	}
	return errors.Join(out...)
}

// DecodeError turns the YAML library's "[6:5] msg + source excerpt" into
// "file:6:5: msg" followed by the excerpt, the form editors and people read.
func DecodeError(name string, err error) error {
	msg := yaml.FormatError(err, false, true)
	if strings.HasPrefix(msg, "[") {
		if end := strings.Index(msg, "]"); end > 0 {
			return fmt.Errorf("%s:%s:%s", name, msg[1:end], msg[end+1:])
		}
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// LineOf finds the line of a field path such as projects[1].bwlimit in a
// parsed file; for a missing key it falls back to the nearest parent that
// exists, and it is 0 when nothing matches.
func LineOf(file *ast.File, field string) int {
	for p := field; p != ""; p = parent(p) {
		if line := KeyLine(file, p); line > 0 {
			return line
		}
	}
	return 0
}

// KeyLine is the line of exactly the field path in a parsed file (the
// line of its key, for a map entry), 0 when the file does not have it.
func KeyLine(file *ast.File, field string) int {
	if file == nil {
		return 0
	}
	node := lookup(file, field)
	if node == nil {
		return 0
	}
	// A block mapping or list starts on the line after its key: point at
	// the key.
	if i := strings.LastIndex(field, "."); i > 0 && !strings.HasSuffix(field, "]") {
		if key := mapKey(lookup(file, field[:i]), field[i+1:]); key != nil {
			return key.GetToken().Position.Line
		}
	}
	return node.GetToken().Position.Line
}

func lookup(file *ast.File, field string) ast.Node {
	path, err := yaml.PathString("$." + quoteKeys(field))
	if err != nil {
		return nil
	}
	node, err := path.FilterFile(file)
	if err != nil || node == nil || node.GetToken() == nil {
		return nil
	}
	return node
}

// mapKey finds the key node of name in a mapping.
func mapKey(m ast.Node, name string) ast.Node {
	var entries []*ast.MappingValueNode
	switch m := m.(type) {
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	}
	for _, e := range entries {
		if e.Key != nil && e.Key.GetToken() != nil && e.Key.GetToken().Value == name {
			return e.Key
		}
	}
	return nil
}

// quoteKeys quotes the map keys of a field path that YAMLPath would not
// take bare, such as projects.epel-amd64.
func quoteKeys(p string) string {
	parts := strings.Split(p, ".")
	for i, part := range parts {
		key, index, _ := strings.Cut(part, "[")
		if key != "" && strings.ContainsFunc(key, func(r rune) bool {
			return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			parts[i] = "'" + key + "'"
			if index != "" {
				parts[i] += "[" + index
			}
		}
	}
	return strings.Join(parts, ".")
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

func (c *Node) mqttDefaults() {
	if c.MQTT.Broker == "" {
		return
	}
	if len(c.MQTT.Topics) == 0 {
		host := "+"
		if c.Upstream != "" {
			host = c.Upstream
		}
		c.MQTT.Topics = []string{"rsync/" + host + "/#"}
	}
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = c.Name
	}
}

func (c *Node) resolvePaths(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.StateDir)
	abs(&c.AccessLog)
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	abs(&c.Limits.Blocklist)
	abs(&c.Telemetry.TokenFile)
	abs(&c.Telemetry.CAFile)
	abs(&c.MQTT.PasswordFile)
	abs(&c.MQTT.CAFile)
	if c.TLS.ACME != nil {
		abs(&c.TLS.ACME.CAFile)
	}
}
