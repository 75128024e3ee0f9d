package placement

import (
	"math"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	src := "Day,Node,Project,Requests,Bytes\n" +
		"2026-11-01,a,debian,10,100GB\n" +
		"2026-11-02,a,debian,10,300000000000\n" +
		"2026-11-02,a,gimp,1,10GB\n" + // gimp on one of a's two days: 5 GB/day
		"2026-11-02T00:00:00Z,b,debian,1,1GB\n" +
		",,fedora,,500GB\n" // a prior
	d, priors, err := ReadCSV("demand.csv", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		node, project string
		want          float64
	}{{"a", "debian", 200e9}, {"a", "gimp", 5e9}, {"b", "debian", 1e9}} {
		if got := d[tc.node][tc.project]; math.Abs(got-tc.want) > 1 {
			t.Errorf("%s/%s = %.0f, want %.0f", tc.node, tc.project, got, tc.want)
		}
	}
	if priors["fedora"] != 500e9 {
		t.Errorf("priors %v", priors)
	}
	// Without a day column every row is a day's figure.
	d, _, err = ReadCSV("d.csv", strings.NewReader("node,project,bytes\na,debian,100GB\na,debian,300GB\n"))
	if err != nil || d["a"]["debian"] != 200e9 {
		t.Errorf("no day column: %v %v", d, err)
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "demand.csv: no header line"},
		{"node,project\na,debian\n", "demand.csv:1: no bytes column"},
		{"node,project,bytes\na,debian,lots\n", `demand.csv:2: bytes: not a size`},
		{"node,project,bytes\na,,1\n", "demand.csv:2: project is empty"},
		{"day,node,project,bytes\nyesterday,a,debian,1\n", `demand.csv:2: day: "yesterday" is not a date`},
		{"node,project,bytes\n\"a,debian,1\n", "demand.csv: "},
	} {
		if _, _, err := ReadCSV("demand.csv", strings.NewReader(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.src, err, tc.want)
		}
	}
}

// FuzzReadCSV: any input gives demand or an error, never a panic, and
// never a negative or NaN figure.
func FuzzReadCSV(f *testing.F) {
	f.Add("day,node,project,requests,bytes\n2026-11-01,a,debian,1,100GB\n,,gimp,,1TB\n")
	f.Add("node,project,bytes\na,debian,1\n")
	f.Add("bytes,project\n\"1\n")
	f.Fuzz(func(t *testing.T, src string) {
		d, priors, err := ReadCSV("fuzz.csv", strings.NewReader(src))
		if err != nil {
			return
		}
		for _, m := range append([]map[string]float64{priors}, values(d)...) {
			for _, v := range m {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("figure %v from %q", v, src)
				}
			}
		}
	})
}

func values(d Demand) []map[string]float64 {
	var out []map[string]float64
	for _, m := range d {
		out = append(out, m)
	}
	return out
}
