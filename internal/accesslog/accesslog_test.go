package accesslog

import (
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	e := Entry{RemoteAddr: "2001:db8::1", Time: time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC), Method: "GET",
		URI: "/debian/dists/", Proto: "HTTP/2.0", Status: 200, Bytes: 512, UserAgent: "Debian APT-HTTP/1.3 (2.6.1)",
		Duration: 1500 * time.Millisecond}
	got := string(Format(nil, e))
	want := `2001:db8::1 - - [25/Nov/2026:14:00:00 +0000] "GET /debian/dists/ HTTP/2.0" 200 512 "-" "Debian APT-HTTP/1.3 (2.6.1)" 1.500` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// FuzzFormat: whatever a client sends as URI or user agent, the line stays
// one line and parses back to the same status and size.
func FuzzFormat(f *testing.F) {
	f.Add("/x\"y", "ua\n\"forged\" 200 1")
	f.Fuzz(func(t *testing.T, uri, ua string) {
		line := string(Format(nil, Entry{RemoteAddr: "192.0.2.1", Time: time.Unix(0, 0).UTC(), Method: "GET", URI: uri,
			Proto: "HTTP/1.1", Status: 404, Bytes: 77, UserAgent: ua}))
		if strings.Count(line, "\n") != 1 {
			t.Fatalf("line break injected: %q", line)
		}
		_, _, st, n, err := ParseLine(strings.TrimSuffix(line, "\n"))
		if err != nil || st != 404 || n != 77 {
			t.Fatalf("round trip: %d %d %v from %q", st, n, err, line)
		}
	})
}
