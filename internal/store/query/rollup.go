package query

import (
	"strconv"
	"strings"
	"time"
)

// Resolution is one of the traffic tables: the same counters per minute,
// hour and day, all three written at ingest, so a long range reads a few
// rows per node and project instead of one a minute.
type Resolution struct {
	Table, Column string
	Seconds       int64
	// NodeTable holds the same counters per node, all its projects
	// summed ("" for minutes): what a query not asking for projects reads.
	NodeTable string
}

// The traffic tables, coarsest first.
var (
	Days    = Resolution{"traffic_day", "day_unix", 86400, "node_traffic_day"}
	Hours   = Resolution{"traffic_hour", "hour_unix", 3600, "node_traffic_hour"}
	Minutes = Resolution{"traffic", "minute_unix", 60, ""}
	all     = []Resolution{Days, Hours, Minutes}
)

// Span is a part of a range answered by one table: [From, To) in unix
// seconds.
type Span struct {
	Resolution
	From, To int64
}

// Spans splits [from, to) into the parts each table answers: whole days
// from the daily table, the whole hours around them from the hourly one,
// the minutes at the edges from the minute table. With step > 0 (a series
// of step-long buckets) a table is used only if its rows fall into one
// bucket each: step a multiple of its resolution. The sums are those of
// the minute rows alone, as long as the minutes are kept.
func Spans(from, to time.Time, step time.Duration) []Span {
	var levels []Resolution
	for _, r := range all {
		if st := int64(step / time.Second); st == 0 || st%r.Seconds == 0 || r == Minutes {
			levels = append(levels, r)
		}
	}
	return spans(from.Unix(), to.Unix(), levels)
}

func spans(from, to int64, levels []Resolution) []Span {
	if from >= to {
		return nil
	}
	r := levels[0]
	if len(levels) == 1 {
		return []Span{{r, from, to}}
	}
	a, b := ceil(from, r.Seconds), floor(to, r.Seconds)
	if a >= b {
		return spans(from, to, levels[1:])
	}
	out := spans(from, a, levels[1:])
	out = append(out, Span{r, a, b})
	return append(out, spans(b, to, levels[1:])...)
}

func floor(t, n int64) int64 {
	if t >= 0 {
		return t / n * n
	}
	return -((-t + n - 1) / n * n)
}

func ceil(t, n int64) int64 { return -floor(-t, n) }

// Traffic returns a subquery over the spans with the columns node,
// project (with projects), t, requests and bytes, its arguments added to
// a; with node set, only that node's rows. Without projects it reads the
// per-node tables where they hold the span: a row per node and bucket.
func Traffic(a *Args, spans []Span, node string, projects bool) string {
	if len(spans) == 0 {
		// An empty range: a query of the right shape that finds nothing.
		spans = []Span{{Minutes, 0, 0}}
	}
	parts := make([]string, len(spans))
	for i, s := range spans {
		table, cols := s.Table, "node, project, "
		if !projects {
			cols = "node, "
			if s.NodeTable != "" {
				table = s.NodeTable
			}
		}
		q := "SELECT " + cols + s.Column + " AS t, requests, bytes FROM " + table +
			" WHERE " + s.Column + " >= " + a.Add(s.From) + " AND " + s.Column + " < " + a.Add(s.To)
		if node != "" {
			q += " AND node = " + a.Add(node)
		}
		parts[i] = q
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ") AS traffic_spans"
}

// Bucket is the SQL of a traffic row's bucket, the start of the
// step-long (seconds) bucket its t falls in; step is ours, not a client's.
func Bucket(step int64) string {
	n := strconv.FormatInt(step, 10)
	return "(t / " + n + ") * " + n
}

// Compact returns the statements that apply retention: minute rows and
// samples older than minuteKeep (their counts are in the hourly and daily
// rows), hourly and daily rows, top paths and sync runs older than
// hourKeep.
func Compact(now time.Time, minuteKeep, hourKeep time.Duration, dollar bool) []Statement {
	cut := now.Add(-minuteKeep).Truncate(time.Hour).Unix()
	old := now.Add(-hourKeep).Truncate(time.Hour).Unix()
	var out []Statement
	for _, d := range []struct {
		table, column string
		before        int64
	}{
		{Minutes.Table, Minutes.Column, cut},
		{Hours.Table, Hours.Column, old},
		{Days.Table, Days.Column, floor(old, Days.Seconds)},
		{Hours.NodeTable, Hours.Column, old},
		{Days.NodeTable, Days.Column, floor(old, Days.Seconds)},
		{"system", "end_unix", cut},
		{"health_samples", "end_unix", cut},
		{"batches", "end_unix", cut},
		{"top_paths", "day_unix", floor(old, Days.Seconds)},
		{"syncs", "started_unix", old},
	} {
		a := &Args{Dollar: dollar}
		out = append(out, Statement{SQL: "DELETE FROM " + d.table + " WHERE " + d.column + " < " + a.Add(d.before), Args: a.List})
	}
	return out
}
