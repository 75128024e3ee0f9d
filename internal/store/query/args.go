// Package query builds the SQL both watchtower stores run: which traffic
// table answers which part of a range (the roll-ups), a telemetry batch
// reduced to the rows it writes, and multi-row statements with their
// arguments. The stores differ only in placeholders and a few functions.
package query

import (
	"strconv"
	"strings"
)

// Args collects a statement's arguments in order; Add returns the
// placeholder of the one added ($n for PostgreSQL, ? for SQLite).
type Args struct {
	Dollar bool
	List   []any
}

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	a.List = append(a.List, v)
	if a.Dollar {
		return "$" + strconv.Itoa(len(a.List))
	}
	return "?"
}

// Values returns "(p, p), (p, p)" for rows, each row's placeholders made
// by adding what row(i) returns.
func (a *Args) Values(rows int, row func(i int) []any) string {
	var sb strings.Builder
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j, v := range row(i) {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(a.Add(v))
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// Chunks calls fn for [lo, hi) slices of n rows at most max long: a
// statement stays under both databases' limits on arguments.
func Chunks(n, max int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; lo += max {
		if err := fn(lo, min(lo+max, n)); err != nil {
			return err
		}
	}
	return nil
}
