package guard

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter limits requests per client prefix (/24 for IPv4, /48 for
// IPv6) with a token bucket, like nginx limit_req with burst and nodelay.
type RateLimiter struct {
	perSec   rate.Limit
	burst    int
	all      bool
	networks []netip.Prefix

	mu      sync.Mutex // guards buckets and lastGC
	buckets map[netip.Prefix]*bucket
	lastGC  time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter builds a limiter; perSec 0 disables it. It applies to
// clients inside networks, or to everyone when all is set.
func NewRateLimiter(perSec float64, burst int, networks []netip.Prefix, all bool) *RateLimiter {
	return &RateLimiter{perSec: rate.Limit(perSec), burst: burst, networks: networks, all: all,
		buckets: map[netip.Prefix]*bucket{}}
}

// ClientPrefix is the unit limits apply to: one customer network.
func ClientPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

func (l *RateLimiter) applies(a netip.Addr) bool {
	if l == nil || l.perSec <= 0 {
		return false
	}
	if l.all {
		return true
	}
	for _, n := range l.networks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Allow takes a token for the client's prefix; false means answer 429.
func (l *RateLimiter) Allow(a netip.Addr, now time.Time) bool {
	a = a.Unmap()
	if !l.applies(a) {
		return true
	}
	key := ClientPrefix(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.perSec, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// gc drops buckets idle long enough to have refilled, bounding memory under
// a scan from many prefixes.
func (l *RateLimiter) gc(now time.Time) {
	if now.Sub(l.lastGC) < time.Minute && len(l.buckets) < 100000 {
		return
	}
	l.lastGC = now
	idle := time.Duration(float64(l.burst)/float64(l.perSec)*float64(time.Second)) + time.Second
	for k, b := range l.buckets {
		if now.Sub(b.seen) > idle {
			delete(l.buckets, k)
		}
	}
}
