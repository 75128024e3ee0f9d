package query

import (
	"sort"
	"time"

	"micromirror/internal/telemetry"
)

// BatchRows is a telemetry batch reduced to the rows a store writes, one
// per key: a multi-row upsert may touch a row only once (PostgreSQL
// refuses a second), and a batch may name a project or path twice.
type BatchRows struct {
	// Minute, Hour and Day are the batch's end truncated: its traffic
	// counts in those rows of the three tables.
	Minute, Hour, Day int64
	Traffic           []TrafficRow
	Top               []telemetry.PathCount
	Checkers          []CheckerRow
	Syncs             []telemetry.SyncEvent
	States            []StateRow
}

// TrafficRow is what one project served in the batch.
type TrafficRow struct {
	Project         string
	Requests, Bytes int64
}

// CheckerRow is what one checker did in the batch.
type CheckerRow struct {
	Checker          string
	Last, LastError  int64 // unix; LastError 0 without errors
	Requests, Errors int64
}

// StateRow is a project's state after the batch's runs: the newest run,
// the newest success, and the failed runs since the last success.
type StateRow struct {
	Project     string
	LastSuccess int64 // unix, 0 never
	LastResult  string
	LastRun     int64
	TreeBytes   int64 // 0: not reported, keep the stored size
	Serial      string
	Triggers    string // the column's JSON; "": none reported
	Failures    int
	// Since says Failures counts from a success in this batch; otherwise
	// they add to the failures stored.
	Since bool
}

// Reduce returns the rows of b.
func Reduce(b telemetry.Batch) BatchRows {
	r := BatchRows{
		Minute: b.End.Truncate(time.Minute).Unix(),
		Hour:   b.End.Truncate(time.Hour).Unix(),
		Day:    b.End.Truncate(24 * time.Hour).Unix(),
	}
	traffic := map[string]*TrafficRow{}
	for _, p := range b.Projects {
		t := traffic[p.Project]
		if t == nil {
			t = &TrafficRow{Project: p.Project}
			traffic[p.Project] = t
		}
		for _, v := range p.Requests {
			t.Requests += int64(v)
		}
		for _, v := range p.Bytes {
			t.Bytes += int64(v)
		}
	}
	for _, t := range traffic {
		r.Traffic = append(r.Traffic, *t)
	}
	sort.Slice(r.Traffic, func(i, j int) bool { return r.Traffic[i].Project < r.Traffic[j].Project })

	type pathKey struct{ project, path string }
	top := map[pathKey]int{}
	for _, p := range b.Top {
		k := pathKey{p.Project, p.Path}
		if i, ok := top[k]; ok {
			r.Top[i].Requests += p.Requests
			r.Top[i].Bytes += p.Bytes
			continue
		}
		top[k] = len(r.Top)
		r.Top = append(r.Top, p)
	}

	checkers := map[string]int{}
	for _, c := range b.Checkers {
		errs := int64(c.Status["4xx"] + c.Status["5xx"])
		row := CheckerRow{Checker: c.Checker, Last: c.Last.Unix(), Requests: int64(c.Requests), Errors: errs}
		if errs > 0 {
			row.LastError = row.Last
		}
		i, ok := checkers[c.Checker]
		if !ok {
			checkers[c.Checker] = len(r.Checkers)
			r.Checkers = append(r.Checkers, row)
			continue
		}
		have := &r.Checkers[i]
		have.Requests += row.Requests
		have.Errors += row.Errors
		have.Last, have.LastError = max(have.Last, row.Last), max(have.LastError, row.LastError)
	}

	runs := map[string][]telemetry.SyncEvent{}
	type runKey struct {
		project string
		started int64
	}
	seen := map[runKey]bool{}
	for _, e := range b.Syncs {
		k := runKey{e.Project, e.Started.Unix()}
		if seen[k] { // the syncs table keeps the first; so does the state
			continue
		}
		seen[k] = true
		r.Syncs = append(r.Syncs, e)
		runs[e.Project] = append(runs[e.Project], e)
	}
	for project, es := range runs {
		sort.SliceStable(es, func(i, j int) bool { return es[i].Started.Before(es[j].Started) })
		st := StateRow{Project: project}
		for _, e := range es {
			st.LastResult, st.LastRun = e.Result, e.Started.Unix()
			if !e.LastSuccess.IsZero() {
				st.LastSuccess = max(st.LastSuccess, e.LastSuccess.Unix())
			}
			if e.TreeBytes > 0 {
				st.TreeBytes = e.TreeBytes
			}
			if e.Serial != "" {
				st.Serial = e.Serial
			}
			if t := triggersColumn(e.Triggers); t != "" {
				st.Triggers = t
			}
			if telemetry.ResultOK(e.Result) {
				st.Failures, st.Since = 0, true
			} else {
				st.Failures++
			}
		}
		r.States = append(r.States, st)
	}
	sort.Slice(r.States, func(i, j int) bool { return r.States[i].Project < r.States[j].Project })
	return r
}
