package rsync

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArgsMirrorSafe(t *testing.T) {
	a := Args(Options{Source: "rsync://up/debian/", Dest: "/srv/debian/", BytesPerSec: 25e6, TimeoutSec: 600, ConnTimeout: 60,
		Exclude: []string{"source/"}, Include: []string{"fullfiletimelist-epel"}, Protect: []string{"/project/trace/n1"},
		Delete: true, DeleteExcluded: true, Progress: true})
	for _, want := range []string{"-rlptH", "--safe-links", "--delay-updates", "--delete-delay", "--delete-excluded",
		"--timeout=600", "--contimeout=60", "--no-motd", "--stats", "--filter=- .~tmp~/", "--bwlimit=25000KB",
		"--filter=P /project/trace/n1", "--filter=- source/", "--info=progress2"} {
		if !slices.Contains(a, want) {
			t.Errorf("args lack %q: %v", want, a)
		}
	}
	if slices.Index(a, "--filter=+ fullfiletimelist-epel") > slices.Index(a, "--filter=- source/") {
		t.Errorf("manifest include must come before the excludes: %v", a)
	}
	if a[len(a)-2] != "rsync://up/debian/" || a[len(a)-1] != "/srv/debian/" {
		t.Errorf("source/dest not last: %v", a)
	}
	noDel := Args(Options{Source: "s/", Dest: "d/"})
	for _, x := range noDel {
		if strings.HasPrefix(x, "--delete") {
			t.Errorf("first stage deletes: %v", noDel)
		}
	}
}

func TestClassify(t *testing.T) {
	for code, want := range map[int]Result{0: Success, 24: Vanished, 23: Partial, 10: Transient, 12: Transient,
		30: Transient, 35: Transient, 5: Transient, 20: Transient, 1: Fatal, 2: Fatal, 11: Fatal, 25: Fatal} {
		if got := Classify(code); got != want {
			t.Errorf("Classify(%d) = %s, want %s", code, got, want)
		}
	}
	if !Vanished.OK() || Partial.OK() {
		t.Errorf("OK wrong")
	}
}

const statsOut = `
Number of files: 1,234 (reg: 1,200, dir: 34)
Number of created files: 12 (reg: 12)
Number of deleted files: 3 (reg: 3)
Number of regular files transferred: 15
Total file size: 987,654,321 bytes
Total transferred file size: 12,345,678 bytes
Literal data: 12,345,678 bytes
Total bytes sent: 4,321
Total bytes received: 12,400,000

sent 4,321 bytes  received 12,400,000 bytes  1,234,567.00 bytes/sec
`

func TestParseStats(t *testing.T) {
	s := ParseStats(statsOut)
	want := Stats{Files: 1234, RegularFiles: 1200, Deleted: 3, Transferred: 15,
		TotalSize: 987654321, BytesSent: 4321, BytesReceived: 12400000}
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

func TestParseProgress(t *testing.T) {
	p, ok := ParseProgress("     12,345,678  42%   11.78MB/s    0:01:05 (xfr#3, to-chk=10/20)")
	if !ok || p.Bytes != 12345678 || p.Percent != 42 || p.ETA != 65*time.Second || p.Rate < 11.7*(1<<20) || p.Rate > 11.8*(1<<20) {
		t.Errorf("got %+v %v", p, ok)
	}
	for _, junk := range []string{"", "sending incremental file list", "pool/main/a.deb", "  12%"} {
		if _, ok := ParseProgress(junk); ok {
			t.Errorf("junk %q parsed", junk)
		}
	}
}

func FuzzParseStats(f *testing.F) {
	f.Add(statsOut)
	f.Fuzz(func(t *testing.T, s string) {
		st := ParseStats(s)
		if st.Files < 0 || st.Deleted < 0 || st.BytesReceived < 0 {
			t.Fatalf("negative figures from %q", s)
		}
	})
}

func FuzzParseProgress(f *testing.F) {
	f.Add("  1,000  5%  1.00MB/s  0:00:01 (xfr#1, to-chk=1/2)")
	f.Add("0 0% 0B/s 8000000:00:00") // the hours overflowed into a negative ETA
	f.Fuzz(func(t *testing.T, s string) {
		if p, ok := ParseProgress(s); ok && (p.Bytes < 0 || p.Percent < 0 || p.Percent > 100 || p.ETA < 0) {
			t.Fatalf("bad progress %+v from %q", p, s)
		}
	})
}

// An initial sync lists the whole tree first (a true progress total);
// later runs recurse incrementally (less upstream time and memory).
func TestFullListOnlyWhenAsked(t *testing.T) {
	has := func(o Options) bool { return slices.Contains(Args(o), "--no-inc-recursive") }
	if !has(Options{Progress: true, FullList: true}) || has(Options{Progress: true}) || has(Options{FullList: true}) {
		t.Error("--no-inc-recursive where it should not be, or missing")
	}
}
