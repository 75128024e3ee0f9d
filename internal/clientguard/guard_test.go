package clientguard

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseBlocklist(t *testing.T) {
	ps, err := ParseBlocklist("bl", strings.NewReader("# comment\n192.0.2.0/24\n\n2001:db8::/32 # trailing\n198.51.100.7\n"))
	if err != nil || len(ps) != 3 {
		t.Fatalf("got %v, %v", ps, err)
	}
	if _, err := ParseBlocklist("bl", strings.NewReader("192.0.2.0/24\nbogus\n")); err == nil || !strings.Contains(err.Error(), "bl:2:") {
		t.Errorf("bad line not named: %v", err)
	}
}

func TestBlocklistContainsMapped(t *testing.T) {
	b := NewBlocklist()
	ps, _ := ParseBlocklist("bl", strings.NewReader("192.0.2.0/24\n"))
	b.prefixes.Store(&ps)
	if !b.Contains(netip.MustParseAddr("::ffff:192.0.2.9")) {
		t.Errorf("IPv4-mapped address escaped the blocklist")
	}
	if b.Contains(netip.MustParseAddr("192.0.3.1")) {
		t.Errorf("false positive")
	}
}

func TestRateLimiterPerPrefix(t *testing.T) {
	l := NewRateLimiter(1, 2, nil, true)
	now := time.Unix(1000, 0)
	a1, a2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.200")
	other := netip.MustParseAddr("198.51.100.1")
	if !l.Allow(a1, now) || !l.Allow(a2, now) {
		t.Fatal("burst refused")
	}
	if l.Allow(a1, now) {
		t.Errorf("same /24 not limited together")
	}
	if !l.Allow(other, now) {
		t.Errorf("another /24 limited")
	}
	if !l.Allow(a1, now.Add(1100*time.Millisecond)) {
		t.Errorf("token not refilled")
	}
	v6a, v6b := netip.MustParseAddr("2001:db8:1:1::1"), netip.MustParseAddr("2001:db8:1:ffff::2")
	l.Allow(v6a, now)
	l.Allow(v6b, now)
	if l.Allow(v6a, now) {
		t.Errorf("same /48 not limited together")
	}
	// Idle buckets are collected.
	l.Allow(other, now.Add(time.Hour))
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets after an hour idle, want 1", len(l.buckets))
	}
}

func TestIsChecker(t *testing.T) {
	g := New(Config{Checkers: []string{"mirrorbits", "ArchWeb", "Ubuntu Mirror"}})
	for ua, want := range map[string]string{
		"Mirrorbits/0.5.1 PING CHECK":    "mirrorbits",
		"python-requests archweb/1.0":    "ArchWeb",
		"x ubuntu mirror checker":        "Ubuntu Mirror",
		"curl/8":                         "",
		"":                               "",
		"archwe":                         "",
		"Mirrorbit/0.5 (one letter off)": "",
	} {
		if got := g.Checker(ua); got != want {
			t.Errorf("Checker(%q) = %q, want %q", ua, got, want)
		}
	}
	// It runs for every request: matching builds no copies, and reads a
	// bounded prefix of the agent (a 15 KB agent cost 40 times a normal
	// one): a name past it is not seen.
	if n := testing.AllocsPerRun(100, func() { g.Checker("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0") }); n != 0 {
		t.Errorf("Checker allocates %.0f times per call", n)
	}
	if got := g.Checker(strings.Repeat("x", maxMatched) + "Mirrorbits"); got != "" {
		t.Errorf("matched %q past the first %d bytes", got, maxMatched)
	}
	if got := g.Checker(strings.Repeat("x", maxMatched-10) + "Mirrorbits"); got != "mirrorbits" {
		t.Errorf("a name ending at the bound: %q", got)
	}
}

func FuzzParseBlocklist(f *testing.F) {
	f.Add("192.0.2.0/24\n# x\n::1\n")
	f.Add("\x00\n/\n::/0")
	f.Fuzz(func(t *testing.T, src string) {
		ps, err := ParseBlocklist("fuzz", strings.NewReader(src))
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() {
				t.Fatalf("invalid prefix accepted from %q", src)
			}
		}
	})
}

// TestRateLimiterBoundedWork: past 100,000 prefixes (easy with IPv6
// /48s) the limiter holds no more, and a request still looks at a few
// buckets, not all of them: the old collection scanned the whole map on
// every request once it was that full.
func TestRateLimiterBoundedWork(t *testing.T) {
	l := NewRateLimiter(1, 5, nil, true)
	now := time.Unix(1000, 0)
	base := netip.MustParseAddr("2001:db8::").As16()
	for i := range maxBuckets + 20000 {
		a := base
		a[2], a[3], a[4], a[5] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i) // a /48 of its own
		l.Allow(netip.AddrFrom16(a), now)
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Errorf("%d buckets held, bound %d", n, maxBuckets)
	}
	before := l.scanned
	for i := range 1000 {
		l.Allow(netip.MustParseAddr("192.0.2.1"), now.Add(time.Duration(i)*time.Millisecond))
	}
	if per := float64(l.scanned-before) / 1000; per > gcPerCall {
		t.Errorf("%.0f buckets looked at per request, want at most %d", per, gcPerCall)
	}
}
