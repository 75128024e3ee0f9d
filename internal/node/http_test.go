package node_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/serve"
	"micromirror/internal/status"
	"micromirror/internal/testenv"
)

var syncedAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fixture starts a node serving debian and archlinux with a few files.
type fixture struct {
	data  string
	http  string // http://127.0.0.1:port
	http6 string
	https string
	blob  []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := testenv.NodeConfig(t, "debian", "archlinux")
	f := &fixture{data: cfg.DataDir, blob: make([]byte, 256<<10)}
	rand.Read(f.blob)
	deb := filepath.Join(cfg.DataDir, "debian")
	testenv.WriteFile(t, filepath.Join(deb, "pool/main/h/hello/hello_1.0_amd64.deb"), f.blob, syncedAt)
	testenv.WriteFile(t, filepath.Join(deb, "dists/stable/Release"), []byte("Origin: Debian\n"), syncedAt)
	testenv.WriteFile(t, filepath.Join(deb, ".~tmp~/Packages.xz"), []byte("half"), syncedAt)
	testenv.WriteFile(t, filepath.Join(deb, "pool/.hello_2.0_amd64.deb.aB3dE9"), []byte("part"), syncedAt)
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "secret.txt"), []byte("outside every tree"), syncedAt)
	os.Symlink("../secret.txt", filepath.Join(deb, "escape"))
	os.Symlink("/etc/passwd", filepath.Join(deb, "passwd"))
	os.Symlink("dists/stable/Release", filepath.Join(deb, "release-link"))
	syscall.Mkfifo(filepath.Join(deb, "fifo"), 0o644)
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "archlinux/lastsync"), []byte("1772600767\n"), syncedAt)
	status.NewStore(filepath.Join(cfg.StateDir, "status")).Save(status.Project{Name: "debian", State: "idle", LastSuccess: syncedAt})

	n := testenv.StartNode(t, cfg)
	f.http = testenv.URL("http", n.HTTPAddrs()[0])
	f.http6 = testenv.URL("http", n.HTTPAddrs()[1])
	f.https = testenv.URL("https", n.HTTPSAddrs()[0])
	return f
}

func curl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := testenv.Curl(t, args...)
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	return out
}

// status runs curl and returns the HTTP status code.
func statusOf(t *testing.T, args ...string) string {
	t.Helper()
	return curl(t, append([]string{"-o", "/dev/null", "-w", "%{http_code}"}, args...)...)
}

func TestServeFileExactSizeAndTime(t *testing.T) {
	f := newFixture(t)
	url := f.http + "/debian/pool/main/h/hello/hello_1.0_amd64.deb"
	head := curl(t, "-I", url)
	for _, want := range []string{
		"HTTP/1.1 200 OK",
		fmt.Sprintf("Content-Length: %d", len(f.blob)),
		"Last-Modified: Wed, 04 Mar 2026 05:06:07 GMT",
		"Content-Type: application/vnd.debian.binary-package",
		"Accept-Ranges: bytes",
		"Etag: \"",
	} {
		if !strings.Contains(head, want) {
			t.Errorf("HEAD lacks %q:\n%s", want, head)
		}
	}
	get := curl(t, "-D", "-", "-o", "/dev/null", url)
	if stripDate(get) != stripDate(head) {
		t.Errorf("HEAD and GET headers differ:\nHEAD:\n%s\nGET:\n%s", head, get)
	}
	body := curl(t, url)
	if !bytes.Equal([]byte(body), f.blob) {
		t.Errorf("body differs: %d bytes, want %d", len(body), len(f.blob))
	}
	// curl -R sets the file's mtime from Last-Modified: what mirror scanners compare.
	out := filepath.Join(t.TempDir(), "x.deb")
	curl(t, "-R", "-o", out, url)
	if fi, err := os.Stat(out); err != nil || !fi.ModTime().Equal(syncedAt) {
		t.Errorf("downloaded mtime = %v, want %v", fi.ModTime(), syncedAt)
	}
}

func stripDate(h string) string {
	var out []string
	for _, l := range strings.Split(h, "\n") {
		if !strings.HasPrefix(l, "Date:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRanges(t *testing.T) {
	f := newFixture(t)
	url := f.http + "/debian/pool/main/h/hello/hello_1.0_amd64.deb"

	t.Run("single", func(t *testing.T) {
		got := curl(t, "-r", "100-199", url)
		if !bytes.Equal([]byte(got), f.blob[100:200]) {
			t.Errorf("range 100-199: got %d bytes", len(got))
		}
		if code := statusOf(t, "-r", "100-199", url); code != "206" {
			t.Errorf("status %s, want 206", code)
		}
	})
	t.Run("suffix", func(t *testing.T) {
		got := curl(t, "-r", "-10", url)
		if !bytes.Equal([]byte(got), f.blob[len(f.blob)-10:]) {
			t.Errorf("suffix range wrong")
		}
	})
	t.Run("multiple", func(t *testing.T) {
		out := curl(t, "-D", "-", "-r", "0-9,50-59", url)
		if !strings.Contains(out, "multipart/byteranges; boundary=") {
			t.Fatalf("no multipart response:\n%.300s", out)
		}
		if !strings.Contains(out, "Content-Range: bytes 0-9/") || !strings.Contains(out, "Content-Range: bytes 50-59/") {
			t.Errorf("parts missing")
		}
		if !strings.Contains(out, string(f.blob[50:60])) {
			t.Errorf("second part body missing")
		}
	})
	t.Run("unsatisfiable", func(t *testing.T) {
		if code := statusOf(t, "-r", "999999999-", url); code != "416" {
			t.Errorf("status %s, want 416", code)
		}
	})
	t.Run("resume", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "partial.deb")
		os.WriteFile(out, f.blob[:1000], 0o644)
		curl(t, "-C", "-", "-o", out, url)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, f.blob) {
			t.Errorf("resumed file differs (%d bytes)", len(got))
		}
	})
	t.Run("if-range", func(t *testing.T) {
		etag := headerOf(curl(t, "-I", url), "Etag")
		if code := statusOf(t, "-r", "0-9", "-H", "If-Range: "+etag, url); code != "206" {
			t.Errorf("matching If-Range: %s, want 206", code)
		}
		if code := statusOf(t, "-r", "0-9", "-H", `If-Range: "stale"`, url); code != "200" {
			t.Errorf("stale If-Range: %s, want 200 (whole file)", code)
		}
	})
}

func headerOf(resp, name string) string {
	for _, l := range strings.Split(resp, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestConditional(t *testing.T) {
	f := newFixture(t)
	url := f.http + "/debian/dists/stable/Release"
	etag := headerOf(curl(t, "-I", url), "Etag")
	if etag == "" || strings.HasPrefix(etag, "W/") {
		t.Fatalf("want a strong ETag, got %q", etag)
	}
	if code := statusOf(t, "-H", "If-None-Match: "+etag, url); code != "304" {
		t.Errorf("If-None-Match: %s, want 304", code)
	}
	if code := statusOf(t, "-H", "If-Modified-Since: Wed, 04 Mar 2026 05:06:07 GMT", url); code != "304" {
		t.Errorf("If-Modified-Since same time: %s, want 304", code)
	}
	if code := statusOf(t, "-H", "If-Modified-Since: Tue, 03 Mar 2026 00:00:00 GMT", url); code != "200" {
		t.Errorf("If-Modified-Since older: %s, want 200", code)
	}
	// The ETag changes when rsync replaces the file (new inode, new mtime).
	tmp := filepath.Join(f.data, "debian/dists/stable/.Release.tmp")
	testenv.WriteFile(t, tmp, []byte("Origin: Debian\nNew: yes\n"), syncedAt.Add(time.Hour))
	os.Rename(tmp, filepath.Join(f.data, "debian/dists/stable/Release"))
	if code := statusOf(t, "-H", "If-None-Match: "+etag, url); code != "200" {
		t.Errorf("after replace: %s, want 200", code)
	}
}

func TestHTTP2AndTLS(t *testing.T) {
	f := newFixture(t)
	out := curl(t, "-k", "--http2", "-I", f.https+"/debian/dists/stable/Release")
	if !strings.HasPrefix(out, "HTTP/2 200") {
		t.Errorf("want HTTP/2 200, got:\n%s", out)
	}
	out = curl(t, "-k", "--http1.1", "-I", f.https+"/debian/dists/stable/Release")
	if !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Errorf("want HTTP/1.1 over TLS, got:\n%s", out)
	}
	if got := curl(t, "-k", "--http2", "-r", "0-5", f.https+"/debian/dists/stable/Release"); got != "Origin" {
		t.Errorf("h2 range = %q", got)
	}
}

func TestIPv6(t *testing.T) {
	f := newFixture(t)
	if got := curl(t, f.http6+"/debian/dists/stable/Release"); got != "Origin: Debian\n" {
		t.Errorf("over IPv6: %q", got)
	}
}

func TestNeverOutsideTheTrees(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ path, want string }{
		{"/debian/../secret.txt", "400"},
		{"/debian/%2e%2e/secret.txt", "400"},
		{"/debian/%2E%2E%2Fsecret.txt", "400"},
		{"/debian/..%5c..%5csecret.txt", "400"},
		{"/debian/%252e%252e/secret.txt", "404"},
		{"/debian/escape", "404"},
		{"/debian/passwd", "404"},
		{"/debian/fifo", "404"},
		{"/debian/.~tmp~/Packages.xz", "404"},
		{"/debian/.~tmp~/", "404"},
		{"/debian/pool/.hello_2.0_amd64.deb.aB3dE9", "404"},
		{"/secret.txt", "404"},
		{"/debian/release-link", "200"}, // symlinks inside the tree are fine
		{"/debian/dists/stable/Release/", "404"},
	}
	for _, tt := range tests {
		if got := statusOf(t, "--path-as-is", f.http+tt.path); got != tt.want {
			t.Errorf("GET %s = %s, want %s", tt.path, got, tt.want)
		}
	}
	// Hidden and escaping entries are not listed either.
	listing := curl(t, f.http+"/debian/?format=json")
	for _, name := range []string{".~tmp~", "escape", "passwd", "fifo"} {
		if strings.Contains(listing, `"`+name+`"`) {
			t.Errorf("listing shows %q:\n%s", name, listing)
		}
	}
	pool := curl(t, f.http+"/debian/pool/")
	if strings.Contains(pool, "aB3dE9") {
		t.Errorf("rsync temp file listed")
	}
}

func TestMethodsAndBadRequests(t *testing.T) {
	f := newFixture(t)
	url := f.http + "/debian/dists/stable/Release"
	if code := statusOf(t, "-X", "POST", url); code != "405" {
		t.Errorf("POST = %s, want 405", code)
	}
	if allow := headerOf(curl(t, "-i", "-X", "DELETE", url), "Allow"); allow != "GET, HEAD, OPTIONS" {
		t.Errorf("Allow = %q", allow)
	}
	if code := statusOf(t, "-X", "OPTIONS", url); code != "204" {
		t.Errorf("OPTIONS = %s, want 204", code)
	}
	if code := statusOf(t, "-H", "X-Big: "+strings.Repeat("a", 64<<10), url); code != "431" {
		t.Errorf("oversized header = %s, want 431", code)
	}
	// A request line no parser accepts gets 400 and the node carries on.
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.http, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /debian/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
	buf := make([]byte, 64)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := conn.Read(buf)
	conn.Close()
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 400") {
		t.Errorf("malformed request answered %q", buf[:n])
	}
	if code := statusOf(t, url); code != "200" {
		t.Errorf("node broken after bad request: %s", code)
	}
}

func TestIndexPages(t *testing.T) {
	f := newFixture(t)
	page := curl(t, f.http+"/debian/dists/")
	for _, want := range []string{
		"test.mm.example.net",
		`hosted by <a href="https://sponsor.example.com/">Example Sponsor</a>`,
		`<a href="mailto:noc@mm.example.net">noc@mm.example.net</a>`,
		`<a href="/debian/">debian</a>`, // breadcrumb
		`<a href="stable/">stable/</a>`,
		`<a href="../">../</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index page lacks %q", want)
		}
	}
	file := curl(t, f.http+"/debian/pool/main/h/hello/")
	if !strings.Contains(file, fmt.Sprintf(`title="%d bytes">256.0 KiB`, len(f.blob))) {
		t.Errorf("size with exact bytes as tooltip missing:\n%s", file)
	}
	if !strings.Contains(file, "2026-03-04 05:06") {
		t.Errorf("date missing")
	}

	var l serve.Listing
	for _, args := range [][]string{{f.http + "/debian/dists/stable/?format=json"}, {"-H", "Accept: application/json", f.http + "/debian/dists/stable/"}} {
		if err := json.Unmarshal([]byte(curl(t, args...)), &l); err != nil {
			t.Fatalf("JSON listing: %v", err)
		}
		if l.Version != 1 || l.Path != "/debian/dists/stable/" || len(l.Entries) != 1 || l.Entries[0].Name != "Release" ||
			l.Entries[0].Size != 15 || !l.Entries[0].MTime.Equal(syncedAt) {
			t.Errorf("listing = %+v", l)
		}
	}
	if loc := headerOf(curl(t, "-i", f.http+"/debian/dists?x=1"), "Location"); loc != "/debian/dists/?x=1" {
		t.Errorf("directory redirect Location = %q", loc)
	}
	if loc := headerOf(curl(t, "-i", "--path-as-is", f.http+"//evil.example/../debian/dists"), "Location"); strings.HasPrefix(loc, "//") {
		t.Errorf("open redirect: %q", loc)
	}
}

func TestRootPageAndExtras(t *testing.T) {
	f := newFixture(t)
	root := curl(t, f.http+"/")
	for _, want := range []string{`<a href="/archlinux/">archlinux/</a>`, `<a href="/debian/">debian/</a>`, "2026-03-04T05:06:07Z", "not yet", "Example Sponsor"} {
		if !strings.Contains(root, want) {
			t.Errorf("root page lacks %q", want)
		}
	}
	var rj struct {
		Projects []struct {
			Name     string    `json:"name"`
			LastSync time.Time `json:"last_sync"`
		} `json:"projects"`
	}
	json.Unmarshal([]byte(curl(t, f.http+"/?format=json")), &rj)
	if len(rj.Projects) != 2 || rj.Projects[1].Name != "debian" || !rj.Projects[1].LastSync.Equal(syncedAt) {
		t.Errorf("root JSON = %+v", rj)
	}
	if r := curl(t, f.http+"/robots.txt"); !strings.Contains(r, "User-agent: *") {
		t.Errorf("robots.txt = %q", r)
	}
	if code := statusOf(t, f.http+"/favicon.ico"); code != "200" {
		t.Errorf("favicon = %s", code)
	}
	nf := curl(t, f.http+"/debian/nope.deb")
	if !strings.Contains(nf, "no such file") || !strings.Contains(nf, "noc@mm.example.net") {
		t.Errorf("404 page not friendly:\n%s", nf)
	}
	if code := statusOf(t, f.http+"/nosuchproject/"); code != "404" {
		t.Errorf("unknown project = %s", code)
	}
}
