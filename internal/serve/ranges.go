package serve

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Limits on what a Range header can ask of a file. Every part of a
// multipart answer costs its boundary and headers, so 512 two-byte
// ranges of a 1 KiB file came to 72 times the file: ranges are merged
// where they overlap or touch, and when more than maxRanges remain, or
// they and their parts' overhead come to more than the file, the whole
// file is sent instead (200), as nginx does when the ranges add up past
// the file and Apache past MaxRanges.
const (
	maxRanges    = 32
	maxRangeSpec = 256 // ranges read from one header at most
	partOverhead = 100 // about what a part's boundary and headers take
)

type byteRange struct{ start, end int64 } // inclusive

// planRange rewrites a request's Range header into what it gets, before
// http.ServeContent reads it (after its preconditions and If-Range, which
// stay its own): the merged ranges; none, for the whole file; or, when no
// range is satisfiable or the header is malformed, one that ServeContent
// answers 416 with "Content-Range: bytes */size" (RFC 9110 15.5.17).
// A unit other than bytes is ignored, as nginx does.
func planRange(r *http.Request, size int64) {
	v := r.Header["Range"]
	if len(v) == 0 {
		return
	}
	const unit = "bytes="
	if len(v[0]) < len(unit) || !strings.EqualFold(v[0][:len(unit)], unit) {
		delete(r.Header, "Range")
		return
	}
	rs, ok := parseRanges(v[0][len(unit):], size)
	switch {
	case !ok || len(rs) == 0:
		r.Header["Range"] = []string{"bytes=" + strconv.FormatInt(size, 10) + "-"}
	case rs[0].start < 0: // too many, or too much: the whole file
		delete(r.Header, "Range")
	default:
		b := []byte("bytes=")
		for i, br := range rs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, br.start, 10)
			b = append(b, '-')
			b = strconv.AppendInt(b, br.end, 10)
		}
		r.Header["Range"] = []string{string(b)}
	}
}

// parseRanges reads a byte-range set (RFC 9110 14.1.2) against a file of
// size bytes: the satisfiable ranges, merged and in order; ok false for a
// malformed set. A set the whole file answers better comes back as one
// range starting at -1.
func parseRanges(spec string, size int64) (rs []byteRange, ok bool) {
	n := 0
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.Trim(part, " \t")
		if part == "" {
			continue
		}
		if n++; n > maxRangeSpec {
			return []byteRange{{start: -1}}, true
		}
		first, last, found := strings.Cut(part, "-")
		if !found {
			return nil, false
		}
		var br byteRange
		if first == "" { // a suffix: the last n bytes
			k, err := strconv.ParseInt(last, 10, 64)
			if err != nil || k < 0 || last[0] == '+' {
				return nil, false
			}
			if k == 0 || size == 0 {
				continue // unsatisfiable
			}
			br = byteRange{start: max(0, size-k), end: size - 1}
		} else {
			a, err := strconv.ParseInt(first, 10, 64)
			if err != nil || a < 0 || first[0] == '+' {
				return nil, false
			}
			b := int64(-1)
			if last != "" {
				if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a || last[0] == '+' {
					return nil, false
				}
			}
			if a >= size {
				continue // unsatisfiable
			}
			if b < 0 || b >= size {
				b = size - 1
			}
			br = byteRange{start: a, end: b}
		}
		rs = append(rs, br)
	}
	if len(rs) < 2 {
		return rs, true
	}
	slices.SortFunc(rs, func(a, b byteRange) int { return int(min(max(a.start-b.start, -1), 1)) })
	merged := rs[:1]
	for _, br := range rs[1:] {
		cur := &merged[len(merged)-1]
		if br.start <= cur.end+1 {
			cur.end = max(cur.end, br.end)
			continue
		}
		merged = append(merged, br)
	}
	total := int64(0)
	for _, br := range merged {
		total += br.end - br.start + 1
	}
	if len(merged) > 1 {
		total += int64(len(merged)) * partOverhead
	}
	if len(merged) > maxRanges || total > size {
		return []byteRange{{start: -1}}, true
	}
	return merged, true
}
