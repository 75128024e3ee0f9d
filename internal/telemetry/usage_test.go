package telemetry

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestUsageTopClientsCheckers(t *testing.T) {
	u := NewUsage()
	now := time.Now()
	for i := 0; i < 5000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		u.Record("debian", "/debian/dists/stable/InRelease", 100, a, "", 200, now)
	}
	for i := 0; i < 30; i++ {
		u.Record("debian", fmt.Sprintf("/debian/pool/p%02d.deb", i), 1000, netip.MustParseAddr("2001:db8::1"), "", 200, now)
	}
	u.Record("debian", "/debian/missing", 0, netip.MustParseAddr("192.0.2.1"), "", 404, now)
	u.Record("debian", "/debian/lastsync", 10, netip.MustParseAddr("192.0.2.2"), "archweb", 200, now)
	u.Record("debian", "/debian/gone", 0, netip.MustParseAddr("192.0.2.2"), "archweb", 404, now)
	top, clients, checkers := u.Take()
	if len(top) != TopN || top[0].Path != "/debian/dists/stable/InRelease" || top[0].Requests != 5000 || top[0].Bytes != 500000 {
		t.Errorf("top = %+v", top[:2])
	}
	for _, p := range top {
		if p.Path == "/debian/missing" {
			t.Errorf("404s counted as top files")
		}
	}
	if clients < 4800 || clients > 5300 {
		t.Errorf("distinct clients estimate %d, want about 5003", clients)
	}
	if len(checkers) != 1 || checkers[0].Requests != 2 || checkers[0].Status["4xx"] != 1 || checkers[0].Status["2xx"] != 1 {
		t.Errorf("checkers = %+v", checkers)
	}
	if top, clients, checkers := u.Take(); len(top) != 0 || clients != 0 || len(checkers) != 0 {
		t.Errorf("Take did not start a new interval")
	}
}

func TestUsageBounded(t *testing.T) {
	u := NewUsage()
	for i := 0; i < maxTracked+5000; i++ {
		u.Record("p", fmt.Sprintf("/p/%d", i), 1, netip.Addr{}, "", 200, time.Now())
	}
	if len(u.paths) != maxTracked {
		t.Errorf("tracked %d paths", len(u.paths))
	}
}

// TestUsageBoundedInBytes: paths of a few KiB each (a client chooses
// them) cannot fill memory: 20,000 paths of 15 KB held 300 MB.
func TestUsageBoundedInBytes(t *testing.T) {
	u := NewUsage()
	long := strings.Repeat("a", 900)
	for i := 0; i < maxTracked; i++ {
		u.Record("p", fmt.Sprintf("/p/%d/%s", i, long), 1, netip.Addr{}, "", 200, time.Now())
		u.Record("p", fmt.Sprintf("/p/%d/%s", i, strings.Repeat(long, 16)), 1, netip.Addr{}, "", 200, time.Now())
	}
	if u.keyBytes > maxTrackedBytes {
		t.Errorf("%d bytes of paths tracked, bound %d", u.keyBytes, maxTrackedBytes)
	}
	for k := range u.paths {
		if len(k) > maxPathBytes+len("p\x00") {
			t.Fatalf("a %d-byte path tracked", len(k))
		}
	}
}
