package journal

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)

func sample() *Journal {
	j := &Journal{ID: "5f0c3a9e", Module: "debian"}
	j.Append(Serial{Time: t0, Full: true}, 100, 100)
	j.Append(Serial{Time: t0.Add(time.Hour), Paths: []string{"pool/a.deb", "dists/x/Release"}}, 100, 100)
	j.Append(Serial{Time: t0.Add(2 * time.Hour), Paths: []string{"pool/a.deb", "odd\nname \"q\" \xff"}}, 100, 100)
	return j
}

func TestRoundTrip(t *testing.T) {
	j := sample()
	got, err := Parse(bytes.NewReader(j.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, j) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, j)
	}
	if got.Head() != 3 {
		t.Errorf("head %d", got.Head())
	}
}

func TestSince(t *testing.T) {
	j := sample()
	for _, c := range []struct {
		id    string
		from  int64
		paths []string
		why   string
	}{
		{"5f0c3a9e", 3, nil, ""},
		{"5f0c3a9e", 2, []string{"odd\nname \"q\" \xff", "pool/a.deb"}, ""},
		{"5f0c3a9e", 1, []string{"dists/x/Release", "odd\nname \"q\" \xff", "pool/a.deb"}, ""},
		{"5f0c3a9e", 0, nil, "no journal serial"},
		{"", 2, nil, "no journal serial"},
		{"other", 2, nil, "restarted"},
		{"5f0c3a9e", 4, nil, "from the future"},
	} {
		paths, why := j.Since(c.id, c.from)
		if !reflect.DeepEqual(paths, c.paths) || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
			t.Errorf("Since(%q, %d) = %q, %q; want %q, %q", c.id, c.from, paths, why, c.paths, c.why)
		}
	}
	// Crossing a full serial, or older than the journal reaches.
	j.Append(Serial{Time: t0.Add(3 * time.Hour), Full: true}, 100, 100)
	j.Append(Serial{Time: t0.Add(4 * time.Hour), Paths: []string{"b"}}, 100, 100)
	if _, why := j.Since("5f0c3a9e", 3); !strings.Contains(why, "not listed path by path") {
		t.Errorf("crossing a full serial: %q", why)
	}
	if p, why := j.Since("5f0c3a9e", 4); why != "" || !reflect.DeepEqual(p, []string{"b"}) {
		t.Errorf("after the full serial: %q %q", p, why)
	}
	j.Append(Serial{Time: t0, Paths: []string{"c"}}, 100, 2) // keeps serials 5 and 6
	if _, why := j.Since("5f0c3a9e", 3); !strings.Contains(why, "no longer reaches") {
		t.Errorf("beyond the journal: %q", why)
	}
	if p, why := j.Since("5f0c3a9e", 4); why != "" || !reflect.DeepEqual(p, []string{"b", "c"}) {
		t.Errorf("at the journal's edge: %q %q", p, why)
	}
}

func TestAppendBounds(t *testing.T) {
	j := &Journal{ID: "x", Module: "m"}
	for i := 0; i < 5; i++ {
		j.Append(Serial{Time: t0, Paths: []string{"a", "b", "c"}}, 7, 100)
	}
	if len(j.Serials) != 2 || j.Head() != 5 || j.oldest() != 4 {
		t.Errorf("kept %d serials, %d..%d; want the last two", len(j.Serials), j.oldest(), j.Head())
	}
	j.Append(Serial{Time: t0, Paths: make([]string, 8)}, 7, 100)
	if s := j.Serials[len(j.Serials)-1]; !s.Full || s.Paths != nil || s.N != 6 {
		t.Errorf("an oversized serial: %+v", s)
	}
}

func TestUnder(t *testing.T) {
	got := Under([]string{"linux", "linux/a", "linux/b/c", "linuxx/d", "other/e"}, "/linux/")
	if !reflect.DeepEqual(got, []string{"a", "b/c"}) {
		t.Errorf("Under: %q", got)
	}
}

func TestParseRefuses(t *testing.T) {
	good := string(sample().Encode())
	for name, src := range map[string]string{
		"empty":             "",
		"cut short":         good[:len(good)-20],
		"no end line":       strings.Replace(good, "end 3 4\n", "", 1),
		"end miscounts":     strings.Replace(good, "end 3 4", "end 3 3", 1),
		"wrong head":        strings.Replace(good, "end 3 4", "end 4 4", 1),
		"after end":         good + "\"x\"\n",
		"other magic":       strings.Replace(good, "micromirror-journal 1", "micromirror-journal 2", 1),
		"gap in serials":    strings.Replace(good, "serial 3 ", "serial 4 ", 1),
		"absolute path":     strings.Replace(good, `"pool/a.deb"`, `"/etc/passwd"`, 1),
		"dot-dot":           strings.Replace(good, `"pool/a.deb"`, `"pool/../../x"`, 1),
		"journal's own dir": strings.Replace(good, `"pool/a.deb"`, `".micromirror/journal"`, 1),
		"unquoted garbage":  strings.Replace(good, `"pool/a.deb"`, `"pool/a.deb`, 1),
		"path under full":   strings.Replace(good, "serial 2 ", "\"x\"\nserial 2 ", 1),
		"bad time":          strings.Replace(good, "2026-12-02T07:00:00Z", "yesterday", 1),
		"spaces in id":      strings.Replace(good, "id 5f0c3a9e", "id 5f0c 3a9e", 1),
		"unknown line":      strings.Replace(good, "module debian\n", "module debian\nhello\n", 1),
		"long line":         strings.Replace(good, `"pool/a.deb"`, `"`+strings.Repeat("a", MaxLine)+`"`, 1),
	} {
		if _, err := Parse(strings.NewReader(src)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzParse: a journal is outside input; Parse never panics, and what it
// accepts it renders back to the same journal.
func FuzzParse(f *testing.F) {
	f.Add(sample().Encode())
	f.Add([]byte("micromirror-journal 1\nid a\nmodule m\nend 0 0\n"))
	f.Add([]byte("micromirror-journal 1\nid a\nmodule m\nserial 7 2026-12-02T07:00:00.5+01:00\n\"a\"\nend 7 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		again, err := Parse(bytes.NewReader(j.Encode()))
		if err != nil || !reflect.DeepEqual(again, j) {
			t.Fatalf("accepted %q but its encoding %q reads back as %+v, %v", b, j.Encode(), again, err)
		}
		for _, s := range j.Serials {
			for _, p := range s.Paths {
				if !ValidPath(p) {
					t.Fatalf("accepted path %q", p)
				}
			}
		}
	})
}
