package serve

import (
	"path"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name, in  string
		project   string
		rel       string
		hidden    bool
		wantError bool
	}{
		{"root", "/", "", ".", false, false},
		{"project root", "/debian/", "debian", ".", false, false},
		{"file", "/debian/dists/stable/Release", "debian", "dists/stable/Release", false, false},
		{"double slash", "//debian//dists/", "debian", "dists", false, false},
		{"dot segment", "/debian/./dists", "debian", "dists", false, false},
		{"dotdot", "/debian/../etc/passwd", "", "", false, true},
		{"dotdot at end", "/debian/dists/..", "", "", false, true},
		{"only dotdot", "/..", "", "", false, true},
		{"backslash dotdot", `/debian/..\..\etc`, "", "", false, true},
		{"nul", "/debian/a\x00b", "", "", false, true},
		{"relative", "debian/", "", "", false, true},
		{"tmp dir", "/debian/.~tmp~/x.deb", "debian", ".~tmp~/x.deb", true, false},
		{"rsync temp file", "/debian/pool/.foo.deb.Ab3dE9", "debian", "pool/.foo.deb.Ab3dE9", true, false},
		{"partial dir", "/debian/.rsync-partial/x", "debian", ".rsync-partial/x", true, false},
		{"dotfile is fine", "/fedora/.treeinfo", "fedora", ".treeinfo", false, false},
		{"dots in names", "/x/a..b/...", "x", "a..b/...", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hidden, err := resolve(tt.in)
			if (err != nil) != tt.wantError {
				t.Fatalf("resolve(%q) error = %v, want error %v", tt.in, err, tt.wantError)
			}
			if err != nil {
				return
			}
			if got.project != tt.project || got.rel != tt.rel || hidden != tt.hidden {
				t.Errorf("resolve(%q) = %q %q hidden=%v, want %q %q hidden=%v", tt.in, got.project, got.rel, hidden, tt.project, tt.rel, tt.hidden)
			}
		})
	}
}

// FuzzResolve checks the invariant the whole server relies on: whatever the
// request path, an accepted one names a local path inside one project, with
// no ".." and no NUL, and hidden components are always reported.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/", "/debian/dists/", "/a/../b", "/a/.~tmp~/x", "//x//y", "/x/%2e%2e/", `/x/..\y`, "/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, hidden, err := resolve(in)
		if err != nil {
			return
		}
		if got.project == ".." || strings.ContainsAny(got.project, "/\x00") {
			t.Fatalf("project %q from %q", got.project, in)
		}
		if got.rel != "." && (path.IsAbs(got.rel) || path.Clean(got.rel) != got.rel || got.rel == ".." || strings.HasPrefix(got.rel, "../")) {
			t.Fatalf("rel %q from %q is not local", got.rel, in)
		}
		for _, seg := range strings.Split(got.rel, "/") {
			if seg == ".." {
				t.Fatalf("rel %q from %q has ..", got.rel, in)
			}
			if Hidden(seg) && !hidden {
				t.Fatalf("hidden segment %q from %q not reported", seg, in)
			}
		}
		if strings.ContainsRune(got.rel, 0) {
			t.Fatalf("NUL in %q", got.rel)
		}
	})
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"pool/main/h/hello_1.0_amd64.deb": "application/vnd.debian.binary-package",
		"x.RPM":                           "application/x-rpm",
		"Fedora-40.iso":                   "application/x-iso9660-image",
		"core.db.tar.zst":                 "application/zstd",
		"Packages.xz":                     "application/x-xz",
		"repomd.xml":                      "application/xml",
		"Release.gpg":                     "application/pgp-signature",
		"InRelease":                       "text/plain; charset=utf-8",
		"unknown.weird":                   "application/octet-stream",
		"noext":                           "application/octet-stream",
	} {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestSortEntries(t *testing.T) {
	es := []Entry{{Name: "b", Type: "file", Size: 1}, {Name: "z", Type: "dir"}, {Name: "a", Type: "file", Size: 5}, {Name: "c", Type: "dir"}}
	sortEntries(es, "", "")
	if got := names(es); got != "c z a b" {
		t.Errorf("default order = %q", got)
	}
	sortEntries(es, "size", "desc")
	if got := names(es); got != "z c a b" {
		t.Errorf("size desc = %q", got)
	}
}

func names(es []Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return strings.Join(out, " ")
}

// FuzzParseRanges: any Range header gives ranges inside the file,
// sorted, apart and few, or the whole file, or a refusal; never a panic.
func FuzzParseRanges(f *testing.F) {
	for _, s := range []string{"0-9", "-0", "5-", "0-9,5-19", "9-5", "-", "1-2,,3-4", " 0 - 1 ", "+1-2"} {
		f.Add(s, int64(1024))
	}
	f.Fuzz(func(t *testing.T, spec string, size int64) {
		if size < 0 {
			return
		}
		rs, ok := parseRanges(spec, size)
		if !ok || len(rs) == 1 && rs[0].start == -1 {
			return
		}
		if len(rs) > maxRanges {
			t.Fatalf("%d ranges", len(rs))
		}
		for i, r := range rs {
			if r.start < 0 || r.end < r.start || r.end >= size {
				t.Fatalf("%q of %d: range %v", spec, size, r)
			}
			if i > 0 && r.start <= rs[i-1].end+1 {
				t.Fatalf("%q: ranges %v and %v not merged", spec, rs[i-1], r)
			}
		}
	})
}
