package hostile_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestRangesBounded: a Range header cannot make a small file a large
// answer, and unsatisfiable ranges say the file's size. 512 two-byte
// ranges of a 1 KiB file returned 72 times the file in multipart
// overhead; "bytes=-0" answered 206 with an empty, invalid
// Content-Range; 416s carried no "Content-Range: bytes */size".
func TestRangesBounded(t *testing.T) {
	tg := startTarget(t, nil)
	var many []string
	for i := range 512 {
		many = append(many, fmt.Sprintf("%d-%d", 2*i, 2*i))
	}
	for _, tc := range []struct {
		name, rng    string
		status       int
		contentRange string
		maxBody      int
	}{
		{"512 ranges", "bytes=" + strings.Join(many, ","), 200, "", 1024},
		{"overlapping ranges merge", "bytes=0-99,50-149", 206, "bytes 0-149/1024", 150},
		{"adjacent ranges merge", "bytes=0-9,10-19", 206, "bytes 0-19/1024", 20},
		{"the same range twice", "bytes=5-9,5-9", 206, "bytes 5-9/1024", 5},
		{"two ranges", "bytes=0-9,500-509", 206, "", 1024},
		{"empty suffix", "bytes=-0", 416, "bytes */1024", 1024},
		{"past the end", "bytes=999999-", 416, "bytes */1024", 1024},
		{"malformed", "bytes=9-5", 416, "bytes */1024", 1024},
		{"another unit", "lines=1-2", 200, "", 1024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, tg.http, "GET", "/debian/kib", "Range: "+tc.rng)
			b := body(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.contentRange != "" && resp.Header.Get("Content-Range") != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), tc.contentRange)
			}
			if len(b) > tc.maxBody {
				t.Errorf("%d bytes for a 1024-byte file, want at most %d", len(b), tc.maxBody)
			}
		})
	}
}
