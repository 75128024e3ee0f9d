package inventory

import (
	"fmt"
	"strconv"
	"strings"

	"micromirror/internal/yamlconf"

	"github.com/goccy/go-yaml/ast"
)

// ASN is an autonomous system number, written 64500 or "AS64500". A bad
// value is kept and reported by Validate with its line.
type ASN struct {
	n   uint32
	bad string
}

// UnmarshalText parses the number with or without the AS prefix.
func (a *ASN) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "AS"), "as")
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n == 0 {
		*a = ASN{bad: s}
		return nil
	}
	*a = ASN{n: uint32(n)}
	return nil
}

// UnmarshalYAML decodes the YAML scalar (see yamlconf.UnmarshalScalar).
func (a *ASN) UnmarshalYAML(n ast.Node) error { return yamlconf.UnmarshalScalar(n, a) }

// MarshalText writes the number alone.
func (a ASN) MarshalText() ([]byte, error) { return []byte(strconv.FormatUint(uint64(a.n), 10)), nil }

// Number is the AS number; 0 when unset.
func (a ASN) Number() uint32 { return a.n }

// String renders AS64500, or "" when unset.
func (a ASN) String() string {
	if a.n == 0 {
		return ""
	}
	return "AS" + strconv.FormatUint(uint64(a.n), 10)
}

// Err says what is wrong with a value that did not parse.
func (a ASN) Err() error {
	if a.bad == "" {
		return nil
	}
	return fmt.Errorf("%q is not an AS number (want e.g. 64500 or AS64500)", a.bad)
}

// ProjectList is a node's `projects:`: a list of project names, or the
// word auto, which hands the node to the planner.
type ProjectList struct {
	Auto  bool
	Names []string
	bad   string
}

// UnmarshalYAML takes a sequence of names or the scalar auto.
func (l *ProjectList) UnmarshalYAML(node ast.Node) error {
	*l = ProjectList{}
	switch n := node.(type) {
	case *ast.NullNode:
		return nil
	case *ast.StringNode:
		if n.Value == "auto" {
			l.Auto = true
			return nil
		}
		l.bad = fmt.Sprintf("%q: want a list of project names or auto", n.Value)
	case *ast.SequenceNode:
		for _, v := range n.Values {
			s, ok := v.(*ast.StringNode)
			if !ok {
				l.bad = fmt.Sprintf("%s: a project name must be a plain string", strings.TrimSpace(v.String()))
				return nil
			}
			l.Names = append(l.Names, s.Value)
		}
	default:
		l.bad = "want a list of project names or auto"
	}
	return nil
}

// MarshalYAML writes auto or the list.
func (l ProjectList) MarshalYAML() (any, error) {
	if l.Auto {
		return "auto", nil
	}
	return l.Names, nil
}

// Err says what is wrong with a value that did not parse.
func (l ProjectList) Err() error {
	if l.bad == "" {
		return nil
	}
	return fmt.Errorf("%s", l.bad)
}

func itoa(i int) string { return strconv.Itoa(i) }
