package rsyncd

import (
	"strings"
	"testing"
)

func TestParseLogLine(t *testing.T) {
	tr, sess, ok := ParseLogLine("2026/11/25 14:35:23 [11007] MMXFER send debian 3000 3046 pool/main/a b.deb")
	if !ok || sess != "" || tr.Module != "debian" || tr.Length != 3000 || tr.Bytes != 3046 || tr.Path != "pool/main/a b.deb" {
		t.Errorf("transfer = %+v %q %v", tr, sess, ok)
	}
	_, sess, ok = ParseLogLine("2026/11/25 14:35:22 [11007] rsync on debian/dists/ from UNDETERMINED (127.0.0.1)")
	if !ok || sess != "debian" {
		t.Errorf("session = %q %v", sess, ok)
	}
	for _, junk := range []string{"", "MMXFER", "x MMXFER send m -1 2 p", "x MMXFER recv m 1 2 p", "connect from x"} {
		if _, s, ok := ParseLogLine(junk); ok && s == "" {
			t.Errorf("junk %q accepted", junk)
		}
	}
}

func TestRenderConfig(t *testing.T) {
	conf := string(RenderConfig([]Module{{Name: "debian", Path: "/srv/mirror/debian", Comment: "Debian\nevil = yes"}}, Options{Chroot: false, TimeoutSec: 600}))
	for _, want := range []string{"read only = yes", "list = yes", "exclude = .~tmp~/", "[debian]\n\tpath = /srv/mirror/debian", "copy-links", "comment = Debian evil = yes"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}

func FuzzParseLogLine(f *testing.F) {
	f.Add("2026/11/25 14:35:23 [1] MMXFER send debian 3 46 a")
	f.Add("[1] rsync on x/ from y")
	f.Fuzz(func(t *testing.T, line string) {
		tr, _, ok := ParseLogLine(line)
		if ok && (tr.Length < 0 || tr.Bytes < 0) {
			t.Fatalf("negative sizes from %q", line)
		}
	})
}

func TestParseVersion(t *testing.T) {
	for out, want := range map[string][3]int{
		"rsync  version 3.5.0  protocol version 32\nCopyright": {3, 5, 0},
		"rsync  version 3.2.7  protocol version 31":            {3, 2, 7},
		"rsync  version v3.4.3pre1  protocol version 32":       {0, 0, 0},
		"rsync  version 3.4.3pre1  protocol version 32":        {3, 4, 3},
	} {
		got, err := parseVersion([]byte(out))
		if want == ([3]int{}) {
			if err == nil {
				t.Errorf("%q: %v, want an error", out, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", out, got, err, want)
		}
	}
	if atLeast([3]int{3, 2, 7}, [3]int{3, 4, 3}) || !atLeast([3]int{3, 5, 0}, [3]int{3, 4, 3}) || !atLeast([3]int{3, 4, 3}, [3]int{3, 4, 3}) {
		t.Error("atLeast")
	}
}
