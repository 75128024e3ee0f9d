package registration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"micromirror/internal/inventory"
)

func fleet(t *testing.T, edits ...string) *inventory.Fleet {
	t.Helper()
	f, err := inventory.Load("../inventory/testdata/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) == 0 {
		return f
	}
	src := string(f.Source())
	for i := 0; i+1 < len(edits); i += 2 {
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	f, err = inventory.Parse("fleet.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRows(t *testing.T) {
	rows, err := Rows(fleet(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.Project+" "+r.Node+" "+r.State)
	}
	want := "archlinux ziply.mm.example.net live\ndebian ziply.mm.example.net submitted\ndebian sonic.mm.example.net pending\n" +
		"epel-amd64 sonic.mm.example.net pending\nvideolan ziply.mm.example.net pending"
	if strings.Join(got, "\n") != want {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	epel := rows[3]
	if epel.HTTP != "http://sonic.mm.example.net/epel/" || epel.HTTPS != "https://sonic.mm.example.net/epel/" ||
		epel.Rsync != "rsync://sonic.mm.example.net/epel/" || epel.Country != "US" || epel.BandwidthMbit != 1000 ||
		epel.Sponsor != "Sonic" || epel.ASN != "AS64501" || epel.IPv6 != "2001:db8:20::20" {
		t.Errorf("epel row %+v", epel)
	}
	// A planned node's rows say so: it cannot be registered before it serves.
	rows, _ = Rows(fleet(t, "status: planned\n    projects: auto", "status: planned\n    projects: [gimp]"))
	for _, r := range rows {
		if r.Node == "fiberby.mm.example.net" && r.State != inventory.Planned {
			t.Errorf("planned node row %+v", r)
		}
	}
}

func TestProjectsLinks(t *testing.T) {
	ps := Projects(fleet(t, "demand: 300GB", "demand: 300GB\n    registration: https://gimp.example/mirrors"))
	for _, p := range ps {
		switch p.Name {
		case "archlinux":
			if p.Procedure != "https://wiki.archlinux.org/title/DeveloperWiki:NewMirrors" || p.MirrorList != "https://archlinux.org/mirrors/status/json/" {
				t.Errorf("archlinux %+v", p)
			}
		case "gimp":
			if p.Procedure != "https://gimp.example/mirrors" {
				t.Errorf("gimp %+v", p)
			}
		}
	}
}

// An Arch-style JSON list and a Debian-style HTML page, as the projects
// publish them, naming some of the fleet's nodes.
const archJSON = `{"version": 3, "urls": [
 {"url": "https:\/\/ziply.mm.example.net\/archlinux\/", "country_code": "US", "active": true},
 {"url": "http://sonic.mm.example.net/archlinux/", "country_code": "US", "active": true},
 {"url": "https://mirror.example.org/archlinux/", "country_code": "DE"},
 {"url": "https://oldnet.mm.example.net/archlinux/"}]}`

const debianHTML = `<table><tr><td><a href="http://ziply.mm.example.net/debian/">ziply.MM.example.net</a></td></tr>
<tr><td>ftp.example.org</td><td>contact: noc@mm.example.net</td></tr>
<tr><td><a href="https://evil.example.com/?u=sonic.mm.example.net.evil.example.com">x</a></td></tr></table>`

func TestCompare(t *testing.T) {
	f := fleet(t)
	arch := Compare(f, "archlinux", "u", []byte(archJSON))
	if got := strings.Join(arch.Listed, " "); got != "oldnet.mm.example.net sonic.mm.example.net ziply.mm.example.net" {
		t.Errorf("listed %s", got)
	}
	if strings.Join(arch.Unknown, " ") != "sonic.mm.example.net" || strings.Join(arch.Retired, " ") != "oldnet.mm.example.net" ||
		len(arch.MarkLive)+len(arch.NotListed) != 0 || arch.Agrees() {
		t.Errorf("archlinux %+v", arch)
	}
	deb := Compare(f, "debian", "u", []byte(debianHTML))
	if strings.Join(deb.Listed, " ") != "ziply.mm.example.net" || strings.Join(deb.MarkLive, " ") != "ziply.mm.example.net" {
		t.Errorf("debian %+v", deb)
	}
	// Live in the inventory but missing from the list.
	live := fleet(t, "debian: submitted}", "debian: live}")
	if c := Compare(live, "debian", "u", []byte("nothing here")); strings.Join(c.NotListed, " ") != "ziply.mm.example.net" {
		t.Errorf("not listed: %+v", c)
	}
	if c := Compare(live, "debian", "u", []byte(debianHTML)); !c.Agrees() {
		t.Errorf("should agree: %+v", c)
	}
}

// TestCompareAllOverHTTP fetches each project's list from a real server on
// loopback (the inventory points mirror_list there).
func TestCompareAllOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/arch.json":
			w.Write([]byte(archJSON))
		case "/debian.html":
			w.Write([]byte(debianHTML))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := fleet(t,
		"  archlinux: {}", "  archlinux: {mirror_list: \""+srv.URL+"/arch.json\"}",
		"    min_nodes: 3", "    min_nodes: 3\n    mirror_list: "+srv.URL+"/debian.html",
		"  videolan: {}", "  videolan: {mirror_list: \""+srv.URL+"/gone\"}",
		"    path: epel", "    path: epel\n    mirror_list: "+srv.URL+"/debian.html")
	got := map[string]Comparison{}
	for _, c := range CompareAll(context.Background(), f, srv.Client()) {
		got[c.Project] = c
	}
	if len(got["archlinux"].Retired) != 1 || len(got["debian"].MarkLive) != 1 || !strings.Contains(got["videolan"].Error, "404") {
		t.Errorf("comparisons %+v", got)
	}
	if c := got["epel-amd64"]; strings.Join(c.Unknown, " ") != "ziply.mm.example.net" {
		t.Errorf("epel-amd64 %+v", c)
	}
	if _, asked := got["gimp"]; asked {
		t.Error("gimp is hosted by no node; its list should not be fetched")
	}
}

func FuzzHostnames(f *testing.F) {
	f.Add([]byte(archJSON), "mm.example.net")
	f.Add([]byte(debianHTML), "mm.example.net")
	f.Add([]byte("a.b&#46;mm.example.net \\/x"), "example.net")
	f.Fuzz(func(t *testing.T, doc []byte, domain string) {
		for _, h := range Hostnames(doc, domain) {
			if !strings.HasSuffix(h, "."+strings.ToLower(domain)) || h != strings.ToLower(h) {
				t.Fatalf("%q is not under %q", h, domain)
			}
		}
	})
}

// Under a fleet's layout, the rows give the URLs the projects registered:
// the rsync URL names the module (fedora-epel), not the directory.
func TestRowsUnderALayout(t *testing.T) {
	f := fleet(t, "domain: mm.example.net\n", "domain: mm.example.net\nlayout: fcix\n",
		"  videolan: {}\n", "  videolan: {}\n  kdeftp-stable: {}\n", "projects: [archlinux, debian, videolan]", "projects: [archlinux, kdeftp-stable, videolan]")
	rows, err := Rows(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Project] = r.HTTPS + " " + r.Rsync
	}
	for p, want := range map[string]string{
		"epel-amd64":    "https://sonic.mm.example.net/epel/ rsync://sonic.mm.example.net/fedora-epel/",
		"kdeftp-stable": "https://ziply.mm.example.net/kdeftp/stable/ rsync://ziply.mm.example.net/kdeftp/stable/",
		"videolan":      "https://ziply.mm.example.net/videolan-ftp/ rsync://ziply.mm.example.net/videolan-ftp/",
	} {
		if got[p] != want {
			t.Errorf("%s: %q, want %q", p, got[p], want)
		}
	}
}
