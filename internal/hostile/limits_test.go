package hostile_test

import (
	"os"
	"path/filepath"
	"testing"

	"micromirror/internal/nodeconfig"
)

// TestClaimsExemptNobody: a client sending a mirror checker's user agent
// is blocked and rate-limited like anyone; only the checkers' networks
// skip the rate limit. Sending "Mirrorbits" or "archweb" skipped both
// the blocklist and the limit.
func TestClaimsExemptNobody(t *testing.T) {
	bl := filepath.Join(t.TempDir(), "blocklist")
	os.WriteFile(bl, []byte("::1/128\n"), 0o644)
	tg := startTarget(t, func(c *nodeconfig.Config) {
		c.Limits.Blocklist = bl
		c.Limits.RateLimit = nodeconfig.Rate{PerSecond: 0.01, Burst: 2, All: true}
	})
	v6 := tg.n.HTTPAddrs()[1].String()
	for _, ua := range []string{"Mirrorbits/0.6 PING CHECK", "archweb/mirrorcheck", "mirrormanager-crawler/2"} {
		if got := get(t, v6, "HEAD", "/debian/kib", "User-Agent: "+ua).StatusCode; got != 403 {
			t.Errorf("blocked client claiming %q: %d, want 403", ua, got)
		}
	}
	var codes []int
	for range 4 {
		codes = append(codes, get(t, tg.http, "HEAD", "/debian/kib", "User-Agent: Mirrorbits/0.6 PING CHECK").StatusCode)
	}
	if codes[2] != 429 || codes[3] != 429 {
		t.Errorf("a claimed checker over the limit: %v, want 429 after the burst of 2", codes)
	}
}
