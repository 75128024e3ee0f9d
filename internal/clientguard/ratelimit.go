package clientguard

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter limits requests per client prefix (/24 for IPv4, /48 for
// IPv6) with a token bucket, like nginx limit_req with burst and nodelay.
// Its memory and its work per request are bounded whatever the clients:
// buckets are kept in order of last use, at most maxBuckets of them, and
// each request collects at most a few idle ones from the far end (a scan
// of the whole map, once it held 100,000 prefixes, ran on every request).
type RateLimiter struct {
	perSec   rate.Limit
	burst    int
	all      bool
	networks []netip.Prefix

	mu      sync.Mutex // guards buckets, lru, scanned
	buckets map[netip.Prefix]*list.Element
	lru     list.List // of *bucket, the most recently used first
	scanned uint64    // buckets looked at by collection (for tests)
}

type bucket struct {
	key  netip.Prefix
	lim  *rate.Limiter
	seen time.Time
}

// Bounds of the limiter's work and memory.
const (
	maxBuckets = 100000 // prefixes followed at most (about 15 MB)
	gcPerCall  = 4      // idle buckets collected per request at most
)

// NewRateLimiter builds a limiter; perSec 0 disables it. It applies to
// clients inside networks, or to everyone when all is set.
func NewRateLimiter(perSec float64, burst int, networks []netip.Prefix, all bool) *RateLimiter {
	return &RateLimiter{perSec: rate.Limit(perSec), burst: burst, networks: networks, all: all,
		buckets: map[netip.Prefix]*list.Element{}}
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
	el := l.buckets[key]
	if el == nil {
		el = l.lru.PushFront(&bucket{key: key, lim: rate.NewLimiter(l.perSec, l.burst)})
		l.buckets[key] = el
	} else {
		l.lru.MoveToFront(el)
	}
	b := el.Value.(*bucket)
	b.seen = now
	l.collect(now, el)
	return b.lim.AllowN(now, 1)
}

// collect drops a few buckets from the least recently used end: idle
// long enough to have refilled (a new bucket is the same), or, past
// maxBuckets, the oldest whatever it holds. Called with mu held.
func (l *RateLimiter) collect(now time.Time, keep *list.Element) {
	idle := time.Duration(float64(l.burst)/float64(l.perSec)*float64(time.Second)) + time.Second
	for range gcPerCall {
		back := l.lru.Back()
		if back == nil || back == keep {
			return
		}
		l.scanned++
		b := back.Value.(*bucket)
		if now.Sub(b.seen) <= idle && len(l.buckets) <= maxBuckets {
			return
		}
		l.lru.Remove(back)
		delete(l.buckets, b.key)
	}
}
