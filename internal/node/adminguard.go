package node

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// adminOnly refuses admin requests a web page could have made: the admin
// interface listens on loopback only, but a page in an operator's browser
// can reach loopback too, by DNS rebinding (a name of the attacker's that
// resolves to 127.0.0.1: the Host header then names it) or by a
// cross-site form or fetch (the Origin header names the page's site). So
// the Host must be a loopback name or address, and an Origin, when sent,
// must be one too.
func adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "admin interface: Host must be localhost or a loopback address", http.StatusMisdirectedRequest)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !loopbackHost(u.Host) {
				http.Error(w, "admin interface: cross-origin requests are refused", http.StatusForbidden)
				return
			}
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			http.Error(w, "admin interface: cross-site requests are refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header (name or address, with or
// without a port) names this machine's loopback; an empty one (HTTP/1.0,
// a unix socket's client) is no browser's.
func loopbackHost(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
