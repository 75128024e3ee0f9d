package clientguard

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Verifier confirms mirror checkers by forward-confirmed reverse DNS: an
// address whose PTR name lies under one of the configured domains and
// whose name resolves back to the address. Lookups run in the
// background, a few at a time, and never on a request's path; their
// verdicts are kept for a while, for a bounded number of addresses.
type Verifier struct {
	domains  []string // lower case, without a leading dot
	resolver *net.Resolver
	slots    chan struct{} // lookups in flight

	mu    sync.Mutex // guards known
	known map[netip.Addr]verdict

	Lookups, Confirmed atomic.Uint64
}

type verdict struct {
	ok      bool
	pending bool
	until   time.Time
}

// Bounds of the verifier's work and memory.
const (
	maxLookups   = 4                // in flight at once; more claims wait for a later request
	maxKnown     = 4096             // addresses remembered
	lookupTime   = 5 * time.Second  // for the whole check
	confirmedFor = time.Hour        // how long a verdict holds
	refusedFor   = 10 * time.Minute // a negative one, or a failed lookup
)

// NewVerifier checks against domains with resolver (nil: the system's).
func NewVerifier(domains []string, resolver *net.Resolver) *Verifier {
	v := &Verifier{resolver: resolver, slots: make(chan struct{}, maxLookups), known: map[netip.Addr]verdict{}}
	if v.resolver == nil {
		v.resolver = net.DefaultResolver
	}
	for _, d := range domains {
		v.domains = append(v.domains, strings.Trim(strings.ToLower(d), "."))
	}
	return v
}

// Verified reports whether an address was confirmed and still is.
func (v *Verifier) Verified(a netip.Addr) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	d, ok := v.known[a]
	return ok && d.ok && time.Now().Before(d.until)
}

// Check starts a lookup of an address not checked lately, if a slot is
// free (otherwise a later request asks again).
func (v *Verifier) Check(a netip.Addr) {
	now := time.Now()
	v.mu.Lock()
	if d, ok := v.known[a]; ok && (d.pending || now.Before(d.until)) {
		v.mu.Unlock()
		return
	}
	select {
	case v.slots <- struct{}{}:
	default:
		v.mu.Unlock()
		return
	}
	if len(v.known) >= maxKnown {
		v.forgetExpired(now)
	}
	v.known[a] = verdict{pending: true}
	v.mu.Unlock()
	go func() {
		defer func() { <-v.slots }()
		ok := v.lookup(a)
		v.Lookups.Add(1)
		d := verdict{ok: ok, until: time.Now().Add(refusedFor)}
		if ok {
			v.Confirmed.Add(1)
			d.until = time.Now().Add(confirmedFor)
		}
		v.mu.Lock()
		v.known[a] = d
		v.mu.Unlock()
	}()
}

// forgetExpired makes room: expired verdicts go, and if none had, all
// but the pending ones (the checkers come back and are checked again).
// Called with mu held.
func (v *Verifier) forgetExpired(now time.Time) {
	for a, d := range v.known {
		if !d.pending && now.After(d.until) {
			delete(v.known, a)
		}
	}
	if len(v.known) >= maxKnown {
		for a, d := range v.known {
			if !d.pending {
				delete(v.known, a)
			}
		}
	}
}

// lookup is the check itself: PTR, then the name forward.
func (v *Verifier) lookup(a netip.Addr) bool {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTime)
	defer cancel()
	names, err := v.resolver.LookupAddr(ctx, a.String())
	if err != nil {
		return false
	}
	for _, name := range names {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		if !v.under(name) {
			continue
		}
		ips, err := v.resolver.LookupNetIP(ctx, "ip", name)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			if ip.Unmap() == a.Unmap() {
				return true
			}
		}
	}
	return false
}

func (v *Verifier) under(name string) bool {
	for _, d := range v.domains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}
