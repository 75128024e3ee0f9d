package hostile_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPathsNoFileIsThere: paths that name no file answer 404 (and an
// over-long request line 414), as nginx does. A path through a regular
// file (ENOTDIR), a symlink loop (ELOOP), a name longer than the file
// system takes (ENAMETOOLONG) and URLs of 8-15 KiB answered 500.
func TestPathsNoFileIsThere(t *testing.T) {
	tg := startTarget(t, nil)
	os.Symlink("loop-b", filepath.Join(tg.deb, "loop-a"))
	os.Symlink("loop-a", filepath.Join(tg.deb, "loop-b"))
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"through a file", "/debian/empty/x", 404},
		{"through a file, deeper", "/debian/dists/stable/Release/a/b", 404},
		{"symlink loop", "/debian/loop-a", 404},
		{"symlink loop inside", "/debian/loop-a/x", 404},
		{"name too long", "/debian/" + strings.Repeat("n", 300), 404},
		{"path too long", "/debian/" + strings.Repeat("d/", 2100), 404},
		{"9 KiB URL", "/debian/" + strings.Repeat("u", 9<<10), 414},
		{"15 KiB URL", "/debian/" + strings.Repeat("u", 15<<10), 414},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(t, tg.http, "GET", tc.path).StatusCode; got != tc.want {
				t.Errorf("GET %.60s: %d, want %d", tc.path, got, tc.want)
			}
		})
	}
}

// TestRedirectsAndLinksEscaped: a folder whose name holds "?", "#" and
// "<" is linked and redirected to as itself. Breadcrumbs and the
// trailing-slash redirect carried those bytes raw, so the link led to a
// query or an anchor. HEAD of the redirect claimed Content-Length: 0
// where GET sends 46 bytes.
func TestRedirectsAndLinksEscaped(t *testing.T) {
	tg := startTarget(t, nil)
	odd := "a?b#c<d"
	if err := os.MkdirAll(filepath.Join(tg.deb, odd, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	escaped := url.PathEscape(odd) // a%3Fb%23c%3Cd
	resp := get(t, tg.http, "GET", "/debian/"+escaped+"/inner?x=<y>")
	if resp.StatusCode != 301 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if want := "/debian/" + escaped + "/inner/?x=%3Cy%3E"; loc != want {
		t.Errorf("Location %q, want %q", loc, want)
	}
	getLen := resp.ContentLength
	if got := len(body(t, resp)); int64(got) != getLen || got == 0 {
		t.Errorf("GET body %d bytes, Content-Length %d", got, getLen)
	}
	if head := get(t, tg.http, "HEAD", "/debian/"+escaped+"/inner?x=<y>"); head.ContentLength != getLen {
		t.Errorf("HEAD says Content-Length %d, GET %d", head.ContentLength, getLen)
	}
	page := body(t, get(t, tg.http, "GET", "/debian/"+escaped+"/inner/"))
	if !strings.Contains(page, `href="/debian/`+escaped+`/"`) || strings.Contains(page, `href="/debian/a?b`) {
		t.Errorf("breadcrumb not escaped:\n%s", page)
	}
}

// TestJSONListingsNoSniff: JSON listings say nosniff, as pages do; they
// lacked it, so a browser could take a listing for HTML.
func TestJSONListingsNoSniff(t *testing.T) {
	tg := startTarget(t, nil)
	for _, path := range []string{"/debian/dists/?format=json", "/?format=json", "/debian/nope?format=json"} {
		if got := get(t, tg.http, "GET", path).Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, got)
		}
	}
}
