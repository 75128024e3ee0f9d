package inventory

import (
	"strings"
	"testing"
)

// TestWithPlacement: applying a plan changes the placement lines of auto
// nodes and nothing else.
func TestWithPlacement(t *testing.T) {
	src := testdata(t)
	src = strings.Replace(src, "    placement: [debian, epel-amd64]\n", "    placement:   # the planner's\n      - debian\n\n      - epel-amd64\n", 1)
	f := mustLoad(t, src)
	out, err := f.WithPlacement(map[string][]string{
		"sonic.mm.example.net":   {"debian", "gimp"},
		"fiberby.mm.example.net": {"archlinux"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	want := strings.Replace(src, "    placement:   # the planner's\n      - debian\n\n      - epel-amd64\n", "    placement: [debian, gimp]\n", 1)
	want = strings.Replace(want, "    status: planned\n    projects: auto\n", "    status: planned\n    projects: auto\n    placement: [archlinux]\n", 1)
	if got != want {
		t.Errorf("edited inventory:\n%s", got)
	}
	// Unchanged placements leave the text alone.
	same, err := f.WithPlacement(map[string][]string{"sonic.mm.example.net": {"debian", "epel-amd64"}})
	if err != nil || string(same) != src {
		t.Errorf("a no-op edit changed the file: %v", err)
	}
	if _, err := f.WithPlacement(map[string][]string{"ziply.mm.example.net": {"gimp"}}); err == nil || !strings.Contains(err.Error(), "not an auto node") {
		t.Errorf("editing a fixed node: %v", err)
	}
	flow := mustLoad(t, strings.Replace(testdata(t), "  - sponsor: {slug: fiberby, name: Fiberby, url: https://fiberby.example/}\n    ipv4: 198.51.100.30\n",
		"  - {sponsor: {slug: fiberby, name: Fiberby}, ipv4: 198.51.100.30, projects: auto}\n  - sponsor: {slug: x, name: X}\n    ipv4: 198.51.100.31\n", 1))
	if _, err := flow.WithPlacement(map[string][]string{"fiberby.mm.example.net": {"gimp"}}); err == nil || !strings.Contains(err.Error(), "not in block style") {
		t.Errorf("flow entry: %v", err)
	}
}
