package hostile_test

import (
	"strconv"
	"strings"
	"testing"

	"micromirror/internal/testenv"
)

// TestAdminRefusesWebPages: the admin interface answers loopback Host
// names only and refuses requests with a foreign Origin. It answered any
// Host, so a DNS-rebinding page in an operator's browser could read
// /metrics and /debug/pprof, and it took cross-origin POSTs, so any web
// page could trigger syncs.
func TestAdminRefusesWebPages(t *testing.T) {
	tg := startTarget(t, nil)
	port := tg.admin[strings.LastIndex(tg.admin, ":"):]
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		want               int
	}{
		{"loopback address", "GET", "/healthz", []string{"Host: 127.0.0.1" + port}, 200},
		{"localhost", "GET", "/metrics", []string{"Host: localhost" + port}, 200},
		{"rebound name", "GET", "/metrics", []string{"Host: attacker.example" + port}, 421},
		{"rebound name, pprof", "GET", "/debug/pprof/", []string{"Host: rebind.attacker.example"}, 421},
		{"cross-origin POST", "POST", "/api/v1/projects/debian/sync", []string{"Host: 127.0.0.1" + port, "Origin: https://attacker.example"}, 403},
		{"cross-site fetch", "POST", "/api/v1/projects/debian/sync", []string{"Host: 127.0.0.1" + port, "Sec-Fetch-Site: cross-site"}, 403},
		{"cross-origin GET", "GET", "/api/v1/traffic", []string{"Host: 127.0.0.1" + port, "Origin: http://attacker.example"}, 403},
		{"loopback origin", "GET", "/api/v1/traffic", []string{"Host: 127.0.0.1" + port, "Origin: http://127.0.0.1" + port}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.method + " " + tc.path + " HTTP/1.1\r\n" + strings.Join(tc.headers, "\r\n") + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
			out := raw(t, tg.admin, req)
			if !strings.HasPrefix(out, "HTTP/1.1 "+strconv.Itoa(tc.want)) {
				t.Errorf("got %.80q, want %d", out, tc.want)
			}
		})
	}
}

// TestAdminAbstractSocketRefused: listen.admin refuses an abstract unix
// socket ("unix:@name"), which has no file and so no permissions: any
// local user could trigger syncs through it.
func TestAdminAbstractSocketRefused(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	cfg.Listen.Admin = []string{"unix:@micromirror-admin"}
	errs := cfg.Validate()
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "listen.admin[0]") {
		t.Fatalf("abstract socket accepted: %v", errs)
	}
}
