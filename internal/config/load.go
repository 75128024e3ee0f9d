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
		return Node{}, decodeError(name, err)
	}
	base, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return Node{}, fmt.Errorf("%s: %w", name, err)
	}
	cfg.resolvePaths(base)
	cfg.mqttDefaults()
	if errs := cfg.Validate(); len(errs) > 0 {
		file, _ := parser.ParseBytes(src, 0)
		out := make([]error, 0, len(errs))
		for _, fe := range errs {
			fe.File = name
			fe.Line = lineOf(file, fe.Field)
			out = append(out, fe)
		}
		return Node{}, errors.Join(out...)
	}
	return cfg, nil
}

// decodeError turns the YAML library's "[6:5] msg + source excerpt" into
// "file:6:5: msg" followed by the excerpt, the form editors and people read.
func decodeError(name string, err error) error {
	msg := yaml.FormatError(err, false, true)
	if strings.HasPrefix(msg, "[") {
		if end := strings.Index(msg, "]"); end > 0 {
			return fmt.Errorf("%s:%s:%s", name, msg[1:end], msg[end+1:])
		}
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// lineOf finds the line of a field path such as projects[1].bwlimit; for a
// missing key it falls back to the nearest parent that exists.
func lineOf(file *ast.File, field string) int {
	if file == nil {
		return 0
	}
	for p := field; p != ""; p = parent(p) {
		path, err := yaml.PathString("$." + p)
		if err != nil {
			continue
		}
		node, err := path.FilterFile(file)
		if err == nil && node != nil && node.GetToken() != nil {
			return node.GetToken().Position.Line
		}
	}
	return 0
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
