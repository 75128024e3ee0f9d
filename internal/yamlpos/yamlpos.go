// Package yamlpos locates keys in a YAML file by their field path
// (projects[1].bwlimit, nodes[3].location.country): the lines that error
// messages name, and the nodes that edits of a file replace.
package yamlpos

import (
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

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
	node := Lookup(file, field)
	if node == nil {
		return 0
	}
	// A block mapping or list starts on the line after its key: point at
	// the key.
	if key := Key(file, field); key != nil {
		return key.GetToken().Position.Line
	}
	return node.GetToken().Position.Line
}

// Key is the key node of a field path that ends in a map key, nil for a
// list element or a missing key.
func Key(file *ast.File, field string) ast.Node {
	i := strings.LastIndex(field, ".")
	if i <= 0 || strings.HasSuffix(field, "]") {
		return nil
	}
	return mapKey(Lookup(file, field[:i]), field[i+1:])
}

// Lookup is the value node of a field path such as nodes[3].placement,
// nil when the file does not have it.
func Lookup(file *ast.File, field string) (node ast.Node) {
	if file == nil {
		return nil
	}
	defer func() {
		if recover() != nil { // the YAML library's path filter on a malformed file
			node = nil
		}
	}()
	path, err := yaml.PathString("$." + quoteKeys(field))
	if err != nil {
		return nil
	}
	node, err = path.FilterFile(file)
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
