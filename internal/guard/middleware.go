package guard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// Guard decides, per request, whether to block (403), limit (429) or
// serve. The distros' mirror checkers are recognised by user agent and
// always served: a checker that sees 403 or 429 drops the mirror.
type Guard struct {
	Blocklist *Blocklist
	Limiter   *RateLimiter
	// Checkers are user-agent substrings, matched case-insensitively.
	Checkers []string

	Blocked atomic.Uint64
	Limited atomic.Uint64
}

// IsChecker reports whether a user agent belongs to a mirror checker.
func (g *Guard) IsChecker(ua string) bool { return g.Checker(ua) != "" }

// Checker returns the configured checker name a user agent matches, "" if
// none. It runs twice for every request, so it matches without building
// lower-cased copies.
func (g *Guard) Checker(ua string) string {
	for _, c := range g.Checkers {
		if c != "" && containsFold(ua, c) {
			return c
		}
	}
	return ""
}

// containsFold reports whether sub is within s, matched as
// strings.EqualFold matches, without building lower-cased copies.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// Middleware wraps next; refuse writes the refusal page for a status.
func (g *Guard) Middleware(next http.Handler, refuse func(http.ResponseWriter, *http.Request, int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, ok := RemoteAddr(r)
		if !ok || g.IsChecker(r.UserAgent()) {
			next.ServeHTTP(w, r)
			return
		}
		if g.Blocklist != nil && g.Blocklist.Contains(addr) {
			g.Blocked.Add(1)
			refuse(w, r, http.StatusForbidden)
			return
		}
		if !g.Limiter.Allow(addr, time.Now()) {
			g.Limited.Add(1)
			w.Header().Set("Retry-After", "1")
			refuse(w, r, http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RemoteAddr is the client's address from the connection (never from a
// header: nodes face clients directly).
func RemoteAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
