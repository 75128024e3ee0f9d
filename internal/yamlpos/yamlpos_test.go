package yamlpos

import (
	"testing"

	"github.com/goccy/go-yaml/parser"
)

const doc = `projects:
  epel-amd64:
    bwlimit: fast
  debian: {min_nodes: 3}
nodes:
  - sponsor: {slug: a}
    location:
      country: XX
  - sponsor: {slug: b}
`

func TestLines(t *testing.T) {
	file, err := parser.ParseBytes([]byte(doc), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		key   int // KeyLine
		line  int // LineOf
	}{
		{"projects.epel-amd64", 2, 2},            // a block mapping: its key's line, not its first entry's
		{"projects.epel-amd64.bwlimit", 3, 3},    // a dashed key is quoted for the lookup
		{"projects.debian.min_nodes", 4, 4},      // inside a flow mapping
		{"nodes[0].location", 7, 7},              // block mapping under a list item
		{"nodes[0].location.country", 8, 8},      //
		{"nodes[1]", 9, 9},                       // a list item
		{"nodes[1].location.country", 0, 9},      // missing: the nearest parent that is there
		{"nothing.here", 0, 0},                   //
		{"projects.epel-amd64.exclude[2]", 0, 2}, // a missing list under a present key
	} {
		if got := KeyLine(file, tc.field); got != tc.key {
			t.Errorf("KeyLine(%s) = %d, want %d", tc.field, got, tc.key)
		}
		if got := LineOf(file, tc.field); got != tc.line {
			t.Errorf("LineOf(%s) = %d, want %d", tc.field, got, tc.line)
		}
	}
	if KeyLine(nil, "a") != 0 || Lookup(nil, "a") != nil {
		t.Error("a nil file has no lines")
	}
}
