package query

import (
	"errors"
	"strings"
	"time"
)

// The traffic queries, their columns as named. Sums are cast to BIGINT:
// PostgreSQL sums BIGINTs as NUMERIC, SQLite takes the cast as INTEGER.

// groupColumn is the column a usage query groups by.
func groupColumn(group string) (string, error) {
	col := map[string]string{"project": "project", "node": "node"}[strings.ToLower(group)]
	if col == "" {
		return "", errors.New("group must be project or node")
	}
	return col, nil
}

const sums = "CAST(SUM(requests) AS BIGINT), CAST(SUM(bytes) AS BIGINT)"

// Usage sums [from, to) per group: key, requests, bytes.
func Usage(a *Args, group string, from, to time.Time) (string, error) {
	col, err := groupColumn(group)
	if err != nil {
		return "", err
	}
	return `SELECT ` + col + `, ` + sums + ` FROM ` + Traffic(a, Spans(from, to, 0), "", col == "project") + ` GROUP BY 1 ORDER BY 1`, nil
}

// Served is one node's (all with node "") series: t, requests, bytes.
func Served(a *Args, node string, from, to time.Time, step time.Duration) (string, error) {
	st := int64(step / time.Second)
	if st < 60 {
		return "", errors.New("step must be at least a minute")
	}
	return `SELECT ` + Bucket(st) + `, ` + sums + ` FROM ` + Traffic(a, Spans(from, to, step), node, false) + ` GROUP BY 1 ORDER BY 1`, nil
}

// Series is each group's series: key, t, requests, bytes, ordered by
// time (the roll-ups' index order; the keys of one bucket in no order).
func Series(a *Args, group string, from, to time.Time, step time.Duration) (string, error) {
	col, err := groupColumn(group)
	st := int64(step / time.Second)
	if err != nil || st < 60 {
		return "", errors.New("group must be project or node, step at least a minute")
	}
	spans := Spans(from, to, step)
	if s := spans; col == "node" && len(s) == 1 && s[0].Seconds == st && s[0].NodeTable != "" {
		// Whole buckets of a per-node table: its rows are the answer,
		// one per node and bucket, with nothing to sum, sorted by time
		// alone (sorting 168,000 rows, a week of a thousand nodes by the
		// hour, by node name as well took PostgreSQL longer than all the
		// rest of the answer).
		c := s[0].Column
		return `SELECT node, ` + c + `, requests, bytes FROM ` + s[0].NodeTable + ` WHERE ` + c + ` >= ` + a.Add(s[0].From) +
			` AND ` + c + ` < ` + a.Add(s[0].To) + ` ORDER BY ` + c, nil
	}
	return `SELECT ` + col + `, ` + Bucket(st) + `, ` + sums + ` FROM ` + Traffic(a, spans, "", col == "project") + ` GROUP BY 2, 1 ORDER BY 2`, nil
}

// Demand is what each node served of each project per day: day, node,
// project, requests, bytes.
func Demand(a *Args, from, to time.Time) string {
	return `SELECT ` + Bucket(Days.Seconds) + `, node, project, ` + sums + ` FROM ` + Traffic(a, Spans(from, to, 24*time.Hour), "", true) + ` GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`
}
