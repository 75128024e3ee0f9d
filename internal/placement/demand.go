package placement

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"micromirror/internal/yamlconf"
)

// Row is what one node served of one project on one day, as the
// watchtower's /api/v1/demand reports it.
type Row struct {
	Day     time.Time
	Node    string
	Project string
	Bytes   float64
}

// FromRows averages rows into bytes per day: each node's sum for a project
// over the number of days the node reported anything, so a project it
// served nothing of on some days is not overrated.
func FromRows(rows []Row) Demand {
	days := map[string]map[time.Time]bool{}
	d := Demand{}
	for _, r := range rows {
		if days[r.Node] == nil {
			days[r.Node] = map[time.Time]bool{}
			d[r.Node] = map[string]float64{}
		}
		days[r.Node][r.Day] = true
		d[r.Node][r.Project] += r.Bytes
	}
	for node, m := range d {
		for p := range m {
			m[p] /= float64(len(days[node]))
		}
	}
	return d
}

// maxCSVRows bounds a demand file: a year of a thousand nodes' forty
// projects is 15 million rows; past that the file is not demand.
const maxCSVRows = 20_000_000

// ReadCSV reads demand from CSV with a header naming its columns (any
// order, any case): project and bytes are required; node, day and requests
// are optional. With day, rows are averaged per day like the watchtower's
// (FromRows); without it, bytes are per day already. Rows without a node
// give priors: the bytes per day a host of the project is expected to
// serve. Bytes may carry a unit (300GB); lines starting with # are
// comments. name is used in errors, which
// give the line and column at fault.
func ReadCSV(name string, r io.Reader) (d Demand, priors map[string]float64, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: no header line (want e.g. day,node,project,requests,bytes): %v", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, req := range []string{"project", "bytes"} {
		if _, ok := col[req]; !ok {
			return nil, nil, fmt.Errorf("%s:1: no %s column (want e.g. day,node,project,requests,bytes)", name, req)
		}
	}
	field := func(rec []string, c string) string {
		if i, ok := col[c]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	_, hasDay := col["day"]
	var rows []Row
	priors = map[string]float64{}
	priorN := map[string]int{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		if line > maxCSVRows {
			return nil, nil, fmt.Errorf("%s: more than %d rows", name, maxCSVRows)
		}
		project, node := field(rec, "project"), field(rec, "node")
		if project == "" {
			return nil, nil, fmt.Errorf("%s:%d: project is empty", name, line)
		}
		size, err := yamlconf.ParseByteSize(field(rec, "bytes"))
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: bytes: %v", name, line, err)
		}
		row := Row{Node: node, Project: project, Bytes: float64(size.Int())}
		if node == "" {
			priors[project] += row.Bytes
			priorN[project]++
			continue
		}
		if hasDay {
			day, err := parseDay(field(rec, "day"))
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%d: day: %v", name, line, err)
			}
			row.Day = day
		} else {
			row.Day = time.Unix(int64(line), 0) // each row is a day of its own
		}
		rows = append(rows, row)
	}
	for p := range priors {
		priors[p] /= float64(priorN[p])
	}
	if !hasDay {
		return perRowDays(rows), priors, nil
	}
	return FromRows(rows), priors, nil
}

// perRowDays averages rows that are each a day's figure already.
func perRowDays(rows []Row) Demand {
	n := map[[2]string]int{}
	d := Demand{}
	for _, r := range rows {
		if d[r.Node] == nil {
			d[r.Node] = map[string]float64{}
		}
		d[r.Node][r.Project] += r.Bytes
		n[[2]string{r.Node, r.Project}]++
	}
	for node, m := range d {
		for p := range m {
			m[p] /= float64(n[[2]string{node, p}])
		}
	}
	return d
}

// parseDay takes 2026-11-25 or an RFC 3339 time.
func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (want 2026-11-25 or RFC 3339)", s)
	}
	return t.UTC().Truncate(24 * time.Hour), nil
}
