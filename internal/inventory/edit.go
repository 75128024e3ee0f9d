package inventory

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"micromirror/internal/yamlpos"
)

// WithPlacement returns the inventory's text with the `placement:` of the
// named auto nodes set, every other line as it was (comments, order,
// quoting): the operator keeps the file in version control and reviews the
// diff. The result is parsed again before it is returned. Node entries
// must be in block style (a `placement:` in a one-line {…} entry is the
// operator's to edit).
func (f *Fleet) WithPlacement(placement map[string][]string) ([]byte, error) {
	file := f.syntax()
	lines := strings.SplitAfter(string(f.src), "\n")
	type edit struct {
		from, to int // 0-based lines to replace, [from, to)
		text     string
	}
	var edits []edit
	for _, n := range f.Nodes {
		want, ok := placement[n.Name]
		if !ok || slices.Equal(want, n.Placement) {
			continue
		}
		if !n.Projects.Auto {
			return nil, fmt.Errorf("%s: not an auto node (projects: auto); its projects are the operator's", n.Name)
		}
		m, isMap := yamlpos.Lookup(file, n.Field("")).(*ast.MappingNode)
		if !isMap || m.IsFlowStyle {
			return nil, fmt.Errorf("%s: its entry is not in block style; set placement: [%s] by hand", n.Name, strings.Join(want, ", "))
		}
		value := "[" + strings.Join(want, ", ") + "]"
		if key := yamlpos.Key(file, n.Field("placement")); key != nil {
			pos := key.GetToken().Position
			from := pos.Line - 1
			edits = append(edits, edit{from, valueEnd(lines, from, pos.Column-1),
				lines[from][:pos.Column-1] + "placement: " + value + "\n"})
			continue
		}
		pos := yamlpos.Key(file, n.Field("projects")).GetToken().Position
		at := pos.Line // the line after projects: auto
		edits = append(edits, edit{at, at, strings.Repeat(" ", pos.Column-1) + "placement: " + value + "\n"})
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].from > edits[j].from })
	for _, e := range edits {
		lines = slices.Replace(lines, e.from, e.to, e.text)
	}
	out := []byte(strings.Join(lines, ""))
	g, err := Parse(f.path, out)
	if err != nil {
		return nil, fmt.Errorf("the edited inventory does not load (a bug): %w", err)
	}
	for name, want := range placement {
		if n := g.NodeByName(name); n == nil || !slices.Equal(n.Placement, want) {
			return nil, fmt.Errorf("the edit did not set %s's placement (a bug)", name)
		}
	}
	return out, nil
}

// valueEnd is the line after a key's value: the key's line plus the lines
// indented deeper (or list items at the key's own indent), blank lines
// and comments between them included only if more value follows.
func valueEnd(lines []string, keyLine, indent int) int {
	end := keyLine + 1
scan:
	for i := keyLine + 1; i < len(lines); i++ {
		trimmed := strings.TrimLeft(lines[i], " ")
		col := len(lines[i]) - len(trimmed)
		switch {
		case strings.TrimSpace(trimmed) == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case col > indent || (col == indent && strings.HasPrefix(trimmed, "- ")):
			end = i + 1
		default:
			break scan
		}
	}
	return end
}
