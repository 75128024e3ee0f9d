package clientguard

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Guard decides, per request, whether to block (403), limit (429) or
// serve. The blocklist applies to everyone. The rate limit spares the
// distros' mirror checkers (a checker that sees 429 drops the mirror),
// but only those the node can tell by their address: in CheckerNetworks,
// or confirmed by forward-confirmed reverse DNS against CheckerDomains.
// A user agent is only a claim, so it grants nothing: it names the
// checker in the telemetry and is what makes a DNS check worth its cost.
type Guard struct {
	Blocklist *Blocklist
	Limiter   *RateLimiter
	// Verifier confirms claimed checkers by DNS; nil without domains.
	Verifier *Verifier

	checkers []string // as configured, for the telemetry
	lower    [][]byte // the same, lower-cased, for matching
	networks []netip.Prefix
	log      *slog.Logger

	*Counters

	mu   sync.Mutex // guards told
	told map[netip.Prefix]struct{}
}

// Counters are what a guard refused. They outlive the guard: a reload
// builds a new guard with the old counters, so they never restart at 0.
type Counters struct {
	Blocked, Limited atomic.Uint64
	// Unverified counts requests over the limit from clients claiming
	// a checker's user agent from an address not known as one.
	Unverified atomic.Uint64
}

// Config is what a Guard is made of.
type Config struct {
	Blocklist *Blocklist
	Limiter   *RateLimiter
	// Checkers are user-agent substrings, matched case-insensitively.
	Checkers []string
	// CheckerNetworks are where the checkers come from.
	CheckerNetworks []netip.Prefix
	Verifier        *Verifier
	Log             *slog.Logger
	// Counters to count in (a previous guard's); nil: new ones.
	Counters *Counters
}

// New makes a Guard.
func New(c Config) *Guard {
	g := &Guard{Blocklist: c.Blocklist, Limiter: c.Limiter, Verifier: c.Verifier, checkers: c.Checkers,
		networks: c.CheckerNetworks, log: c.Log, Counters: c.Counters, told: map[netip.Prefix]struct{}{}}
	if g.Counters == nil {
		g.Counters = &Counters{}
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	for _, ch := range c.Checkers {
		g.lower = append(g.lower, []byte(strings.ToLower(ch)))
	}
	return g
}

// maxMatched is how much of a user agent the checker match reads: the
// checkers name themselves at the start, and a longer agent (up to the
// 8 KiB a header field may have) must not cost more.
const maxMatched = 1024

// Checker returns the configured checker name a user agent claims, ""
// if none. It runs for every request: it lower-cases at most maxMatched
// bytes of the agent into a buffer on the stack and searches each name
// in it, so its cost is linear and bounded, and it allocates nothing.
func (g *Guard) Checker(ua string) string {
	if len(g.lower) == 0 || ua == "" {
		return ""
	}
	var buf [maxMatched]byte
	n := copy(buf[:], ua)
	low := buf[:n]
	for i, c := range low {
		if 'A' <= c && c <= 'Z' {
			low[i] = c + 'a' - 'A'
		}
	}
	for i, ch := range g.lower {
		if len(ch) > 0 && bytes.Contains(low, ch) {
			return g.checkers[i]
		}
	}
	return ""
}

// IsCheckerAddr reports whether an address is a known checker's: in the
// configured networks, or confirmed by DNS.
func (g *Guard) IsCheckerAddr(a netip.Addr) bool {
	for _, n := range g.networks {
		if n.Contains(a) {
			return true
		}
	}
	return g.Verifier != nil && g.Verifier.Verified(a)
}

// Middleware wraps next; refuse writes the refusal page for a status.
func (g *Guard) Middleware(next http.Handler, refuse func(http.ResponseWriter, *http.Request, int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr, ok := RemoteAddr(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if g.Blocklist != nil && g.Blocklist.Contains(addr) {
			g.Blocked.Add(1)
			refuse(w, r, http.StatusForbidden)
			return
		}
		if !g.Limiter.applies(addr) {
			next.ServeHTTP(w, r)
			return
		}
		claim := g.Checker(r.UserAgent())
		if claim != "" && g.Verifier != nil {
			// Checked in the background from the first request, so the
			// answer is in before the client's burst is spent.
			g.Verifier.Check(addr)
		}
		if !g.Limiter.Allow(addr, time.Now()) && !g.IsCheckerAddr(addr) {
			if claim != "" {
				g.Unverified.Add(1)
				g.tell(addr, claim)
			}
			g.Limited.Add(1)
			w.Header().Set("Retry-After", "1")
			refuse(w, r, http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxTold bounds the networks reported as unverified checkers.
const maxTold = 256

// tell logs, once per client network, a checker's user agent over the
// rate limit from an address not known as a checker's: either a client
// pretending, or a checker whose network belongs in checker_networks.
func (g *Guard) tell(a netip.Addr, claim string) {
	p := ClientPrefix(a)
	g.mu.Lock()
	_, done := g.told[p]
	if !done {
		if len(g.told) >= maxTold {
			clear(g.told)
		}
		g.told[p] = struct{}{}
	}
	g.mu.Unlock()
	if !done {
		g.log.Info("rate-limited a client claiming to be a mirror checker; if it is one, add its network to limits.checker_networks",
			"checker", claim, "network", p.String())
	}
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
