// Package yamlconf is what every YAML file of the product shares: strict
// decoding that never panics, errors that name file, line and key, and
// the value types the files are written in (durations, bit rates, byte
// sizes, address prefixes, hostnames, URLs). The node config, the
// watchtower's, the announcer's and the fleet inventory all import it.
package yamlconf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"micromirror/internal/yamlpos"
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

// Decode decodes YAML into v, rejecting unknown keys; errors name the
// file, line and column. The YAML library panics on some malformed input
// (fuzzing found "projects: ! "); Decode turns that into an error too.
func Decode(name string, src []byte, v any) error {
	return decode(name, src, v, yaml.DisallowUnknownField())
}

// DecodeLoose is Decode that ignores keys v does not have: for files of
// other programs (an Ansible inventory's host_vars).
func DecodeLoose(name string, src []byte, v any) error { return decode(name, src, v) }

func decode(name string, src []byte, v any, opts ...yaml.DecodeOption) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed YAML (the parser failed: %v)", name, r)
		}
	}()
	if err := yaml.UnmarshalWithOptions(src, v, opts...); err != nil {
		return DecodeError(name, err)
	}
	return nil
}

// DecodeNode is Decode for a node of a parsed file (an embedded config
// section); strict rejects unknown keys. name is the file's, for errors.
func DecodeNode(name string, node ast.Node, v any, strict bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: malformed YAML (the parser failed: %v)", name, r)
		}
	}()
	var opts []yaml.DecodeOption
	if strict {
		opts = append(opts, yaml.DisallowUnknownField())
	}
	if err := yaml.NodeToValue(node, v, opts...); err != nil {
		return DecodeError(name, err)
	}
	return nil
}

// Syntax parses YAML for line lookups; nil if it does not parse.
func Syntax(src []byte) (file *ast.File) {
	defer func() {
		if recover() != nil {
			file = nil
		}
	}()
	file, _ = parser.ParseBytes(src, 0)
	return file
}

// Locate gives each field error the file name and the line of its key in
// src (or of its nearest parent that is there), and joins them.
func Locate(name string, src []byte, errs []*FieldError) error {
	file := Syntax(src)
	out := make([]error, 0, len(errs))
	for _, fe := range errs {
		fe.File = name
		fe.Line = yamlpos.LineOf(file, fe.Field)
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
