package clientguard

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serveGuarded runs one request from addr with a user agent through g.
func serveGuarded(g *Guard, addr, ua string) int {
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		func(w http.ResponseWriter, r *http.Request, status int) { w.WriteHeader(status) })
	r := httptest.NewRequest("HEAD", "/debian/Release", nil)
	r.RemoteAddr = net.JoinHostPort(addr, "40000")
	r.Header.Set("User-Agent", ua)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// TestNoExemptionByUserAgent: the blocklist applies to everyone, and a
// checker's user agent alone exempts nobody from the rate limit; the
// checkers' networks are exempt. Any client sending "Mirrorbits" or
// "archweb" used to skip both.
func TestNoExemptionByUserAgent(t *testing.T) {
	bl := NewBlocklist()
	ps, _ := ParseBlocklist("bl", strings.NewReader("198.51.100.0/24\n"))
	bl.prefixes.Store(&ps)
	g := New(Config{
		Blocklist:       bl,
		Limiter:         NewRateLimiter(0.001, 2, nil, true),
		Checkers:        []string{"Mirrorbits", "archweb"},
		CheckerNetworks: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
	})
	if got := serveGuarded(g, "198.51.100.7", "Mirrorbits/0.6 PING CHECK"); got != http.StatusForbidden {
		t.Errorf("blocked address with a checker's agent: %d, want 403", got)
	}
	var codes []int
	for range 4 {
		codes = append(codes, serveGuarded(g, "192.0.2.5", "archweb/mirrorcheck"))
	}
	if codes[2] != http.StatusTooManyRequests || codes[3] != http.StatusTooManyRequests {
		t.Errorf("a spoofed checker over its burst: %v, want 429s after 2", codes)
	}
	if g.Unverified.Load() != 2 {
		t.Errorf("%d unverified claims counted, want 2", g.Unverified.Load())
	}
	for i := range 10 {
		if got := serveGuarded(g, "203.0.113.9", "anything"); got != http.StatusOK {
			t.Fatalf("request %d from the checkers' network: %d", i, got)
		}
	}
}

// dnsServer answers PTR and A queries from tables, on loopback.
func dnsServer(t *testing.T, ptr map[string]string, a map[string]string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qu := range q.Question {
			switch qu.Qtype {
			case dns.TypePTR:
				if name, ok := ptr[qu.Name]; ok {
					m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: qu.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60}, Ptr: name})
				}
			case dns.TypeA:
				if ip, ok := a[qu.Name]; ok {
					m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qu.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
				}
			}
		}
		if len(m.Answer) == 0 && q.Question[0].Qtype == dns.TypePTR {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// TestForwardConfirmedReverseDNS: a claimed checker is exempt once its
// address's PTR name lies under a configured domain and resolves back to
// it; a name elsewhere, or one that resolves to another address (anyone
// can set their own PTR record), confirms nothing.
func TestForwardConfirmedReverseDNS(t *testing.T) {
	res := dnsServer(t, map[string]string{
		"2.0.0.127.in-addr.arpa.": "crawler.checkers.example.org.",
		"3.0.0.127.in-addr.arpa.": "crawler.checkers.example.org.", // a PTR someone set for themselves
		"4.0.0.127.in-addr.arpa.": "crawler.elsewhere.example.com.",
	}, map[string]string{
		"crawler.checkers.example.org.":  "127.0.0.2",
		"crawler.elsewhere.example.com.": "127.0.0.4",
	})
	v := NewVerifier([]string{"checkers.example.org"}, res)
	for _, a := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		v.Check(netip.MustParseAddr(a))
	}
	deadline := time.Now().Add(10 * time.Second)
	for v.Lookups.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for a, want := range map[string]bool{"127.0.0.2": true, "127.0.0.3": false, "127.0.0.4": false, "127.0.0.5": false} {
		if got := v.Verified(netip.MustParseAddr(a)); got != want {
			t.Errorf("%s verified: %v, want %v", a, got, want)
		}
	}
	// Through the guard: the confirmed checker passes its limit, the
	// others do not.
	g := New(Config{Limiter: NewRateLimiter(0.001, 1, nil, true), Checkers: []string{"mirrormanager"}, Verifier: v})
	for range 3 {
		if got := serveGuarded(g, "127.0.0.2", "mirrormanager-crawler/2"); got != http.StatusOK {
			t.Errorf("confirmed checker: %d", got)
		}
	}
	serveGuarded(g, "127.0.0.3", "mirrormanager-crawler/2")
	if got := serveGuarded(g, "127.0.0.3", "mirrormanager-crawler/2"); got != http.StatusTooManyRequests {
		t.Errorf("unconfirmed claim: %d, want 429", got)
	}
}
