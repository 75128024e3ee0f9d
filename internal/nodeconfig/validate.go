package nodeconfig

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"micromirror/internal/catalog"
	"micromirror/internal/telemetry"
	"micromirror/internal/yamlconf"
)

var (
	segmentRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)
	topicRE   = regexp.MustCompile(`^[^#+/\x00]+$`)
)

// reservedPaths are served by the node itself and cannot be project paths.
var reservedPaths = map[string]bool{"robots.txt": true, "favicon.ico": true, "index.json": true}

// Validate checks every field and returns one error per bad value, each
// naming its key path so Parse can add the line.
func (c *Config) Validate() []*yamlconf.FieldError {
	var errs []*yamlconf.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &yamlconf.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}

	if c.Name == "" {
		bad("name", "required: the node's public hostname, e.g. sponsor.mm.example.net")
	} else if !yamlconf.IsHostname(c.Name) {
		bad("name", "%q is not a lowercase hostname", c.Name)
	}
	if c.Sponsor.Name == "" {
		bad("sponsor.name", "required: index pages credit the sponsor")
	}
	if c.Sponsor.URL != "" && !yamlconf.IsHTTPURL(c.Sponsor.URL) {
		bad("sponsor.url", "%q is not an http(s) URL", c.Sponsor.URL)
	}
	if c.Contact == "" {
		bad("contact", "required: the fleet operator's e-mail address or URL")
	} else if !IsContact(c.Contact) {
		bad("contact", "%q is neither an e-mail address nor an http(s) URL", c.Contact)
	}
	for _, f := range []struct{ key, v string }{{"fleet.url", c.Fleet.URL}, {"fleet.donate", c.Fleet.Donate}} {
		if f.v != "" && !yamlconf.IsHTTPURL(f.v) {
			bad(f.key, "%q is not an http(s) URL", f.v)
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	if c.StateDir == "" {
		bad("state_dir", "required")
	}
	c.validateListen(bad)
	c.validateTLS(bad)
	switch c.DSCP {
	case "cs1", "none":
	default:
		bad("dscp", "%q: want cs1 or none", c.DSCP)
	}
	c.validateLimits(bad)
	for _, s := range []struct {
		key string
		v   yamlconf.ByteSize
	}{{"cache.memory", c.Cache.Memory}, {"cache.max_file", c.Cache.MaxFile}} {
		if err := s.v.Err(); err != nil {
			bad(s.key, "%v", err)
		}
	}
	if c.Upstream != "" && !IsUpstream(c.Upstream) {
		bad("upstream", "%q is not a hostname (or host:port)", c.Upstream)
	}
	c.validateSync(bad)
	c.validateMQTT(bad)
	if t := c.Telemetry; t.URL != "" {
		if !yamlconf.IsHTTPURL(t.URL) {
			bad("telemetry.url", "%q is not an http(s) URL", t.URL)
		}
		if t.TokenFile == "" {
			bad("telemetry.token_file", "required with telemetry.url: the watchtower authenticates every node")
		}
		if err := t.Interval.Err(); err != nil {
			bad("telemetry.interval", "%v", err)
		} else if t.Interval.D() < 100*time.Millisecond {
			bad("telemetry.interval", "too short")
		}
		if t.SpoolMax < 1 {
			bad("telemetry.spool_max", "must be at least 1")
		}
	}
	c.validateProjects(bad)
	return errs
}

type reporter func(field, format string, args ...any)

func (c *Config) validateListen(bad reporter) {
	lists := []struct {
		key   string
		addrs []string
	}{{"http", c.Listen.HTTP}, {"https", c.Listen.HTTPS}, {"rsync", c.Listen.Rsync}}
	for _, l := range lists {
		for i, a := range l.addrs {
			if _, _, err := splitHostPort(a); err != nil {
				bad(fmt.Sprintf("listen.%s[%d]", l.key, i), "%v", err)
			}
		}
	}
	for i, a := range c.Listen.Admin {
		field := fmt.Sprintf("listen.admin[%d]", i)
		if IsUnixAddr(a) {
			if p := strings.TrimPrefix(a, "unix:"); !strings.HasPrefix(p, "/") {
				// "@name" is an abstract socket: it has no file, so no
				// permissions, and any local user could connect.
				bad(field, "%q: a unix socket must be an absolute path (abstract sockets have no permissions)", a)
			}
			continue
		}
		host, _, err := splitHostPort(a)
		if err != nil {
			bad(field, "%v", err)
			continue
		}
		ip, err := netip.ParseAddr(host)
		if host == "localhost" {
			continue
		}
		if err != nil || !ip.IsLoopback() {
			bad(field, "%q: the admin interface must be on loopback or a unix socket path, never public", a)
		}
	}
}

// IsUnixAddr reports whether a listen address names a unix socket.
func IsUnixAddr(a string) bool { return strings.HasPrefix(a, "/") || strings.HasPrefix(a, "unix:") }

func splitHostPort(a string) (string, string, error) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", "", fmt.Errorf("%q is not host:port (use :80, 0.0.0.0:80 or [::]:80)", a)
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", fmt.Errorf("%q: listen on an IP address, not a name", a)
		}
	}
	if p, err := net.LookupPort("tcp", port); err != nil || p < 0 || p > 65535 {
		return "", "", fmt.Errorf("%q: bad port", a)
	}
	return host, port, nil
}

func (c *Config) validateTLS(bad reporter) {
	t := c.TLS
	files := t.CertFile != "" || t.KeyFile != ""
	modes := 0
	for _, on := range []bool{files, t.ACME != nil, t.SelfSigned} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		bad("tls", "choose one of cert_file/key_file, acme or self_signed")
	case files && (t.CertFile == "" || t.KeyFile == ""):
		bad("tls", "cert_file and key_file go together")
	case modes == 0 && len(c.Listen.HTTPS) > 0:
		bad("tls", "listen.https is set: give cert_file and key_file, acme, or self_signed")
	}
	if t.ACME != nil {
		if t.ACME.Email != "" {
			if _, err := mail.ParseAddress(t.ACME.Email); err != nil {
				bad("tls.acme.email", "%q is not an e-mail address", t.ACME.Email)
			}
		}
		if t.ACME.Directory != "" && !yamlconf.IsHTTPURL(t.ACME.Directory) {
			bad("tls.acme.directory", "%q is not an http(s) URL", t.ACME.Directory)
		}
		if len(c.Listen.HTTP) == 0 {
			bad("tls.acme", "ACME HTTP-01 needs a listen.http address (port 80 in production)")
		}
		for i, n := range t.ACME.Names {
			if !yamlconf.IsHostname(n) {
				bad(fmt.Sprintf("tls.acme.names[%d]", i), "%q is not a hostname", n)
			}
		}
	}
}

func (c *Config) validateLimits(bad reporter) {
	l := c.Limits
	if l.MaxConnections < 1 {
		bad("limits.max_connections", "must be at least 1")
	}
	if l.MaxRsyncSessions < 1 {
		bad("limits.max_rsync_sessions", "must be at least 1")
	}
	if l.KeepaliveRequests < 1 {
		bad("limits.keepalive_requests", "must be at least 1")
	}
	if l.MaxRsyncPerClient < 1 {
		bad("limits.max_rsync_per_client", "must be at least 1")
	}
	for _, d := range []struct {
		key string
		v   yamlconf.Duration
	}{{"limits.header_timeout", l.HeaderTimeout}, {"limits.idle_timeout", l.IdleTimeout},
		{"limits.send_timeout", l.SendTimeout}, {"limits.shutdown_grace", l.ShutdownGrace}} {
		if err := d.v.Err(); err != nil {
			bad(d.key, "%v", err)
		} else if d.v.D() < time.Second {
			bad(d.key, "must be at least 1s")
		}
	}
	if l.RateLimit.PerSecond < 0 {
		bad("limits.rate_limit.per_second", "must not be negative")
	}
	if l.RateLimit.PerSecond > 0 && l.RateLimit.Burst < 1 {
		bad("limits.rate_limit.burst", "must be at least 1")
	}
	for i, n := range l.RateLimit.Networks {
		if _, err := yamlconf.ParsePrefix(n); err != nil {
			bad(fmt.Sprintf("limits.rate_limit.networks[%d]", i), "%v", err)
		}
	}
	for i, n := range l.CheckerNetworks {
		if _, err := yamlconf.ParsePrefix(n); err != nil {
			bad(fmt.Sprintf("limits.checker_networks[%d]", i), "%v", err)
		}
	}
	for i, d := range l.CheckerDomains {
		if !validDomain(strings.Trim(d, ".")) {
			bad(fmt.Sprintf("limits.checker_domains[%d]", i), "%q is not a DNS domain", d)
		}
	}
}

func (c *Config) validateSync(bad reporter) {
	s := c.Sync
	if s.MaxConcurrent < 1 {
		bad("sync.max_concurrent", "must be at least 1")
	}
	if err := s.Bwlimit.Err(); err != nil {
		bad("sync.bwlimit", "%v", err)
	}
	for _, d := range []struct {
		key string
		v   yamlconf.Duration
		min time.Duration
	}{
		{"sync.schedule", s.Schedule, time.Minute}, {"sync.timeout", s.Timeout, time.Second},
		{"sync.connect_timeout", s.ConnectTimeout, time.Second}, {"sync.stall_timeout", s.StallTimeout, time.Second},
		{"sync.retry_min", s.RetryMin, time.Millisecond}, {"sync.retry_max", s.RetryMax, time.Millisecond},
		{"sync.verify_every", s.VerifyEvery, time.Minute},
	} {
		if err := d.v.Err(); err != nil {
			bad(d.key, "%v", err)
		} else if d.v.D() < d.min {
			bad(d.key, "must be at least %v", d.min)
		}
	}
	if s.RetryMax.D() < s.RetryMin.D() {
		bad("sync.retry_max", "must not be below retry_min")
	}
	if s.MaxDeletePercent <= 0 || s.MaxDeletePercent > 100 {
		bad("sync.max_delete_percent", "must be in (0, 100]")
	}
	if s.ReservePercent < 0 || s.ReservePercent >= 100 {
		bad("sync.reserve_percent", "must be in [0, 100)")
	}
	if s.KeepLogs < 1 {
		bad("sync.keep_logs", "must be at least 1")
	}
}

func (c *Config) validateMQTT(bad reporter) {
	m := c.MQTT
	if m.Broker == "" {
		return
	}
	if !IsBrokerURL(m.Broker) {
		bad("mqtt.broker", "%q: want tcp://host:1883, ssl://host:8883, ws:// or wss:// URL", m.Broker)
	}
	for i, t := range m.Topics {
		if !ValidTopicFilter(t) {
			bad(fmt.Sprintf("mqtt.topics[%d]", i), "%q is not an MQTT topic filter", t)
		}
	}
	if m.PasswordFile != "" && m.Username == "" {
		bad("mqtt.password_file", "needs mqtt.username")
	}
	if err := m.Jitter.Err(); err != nil {
		bad("mqtt.jitter", "%v", err)
	}
}

// ValidTopicFilter checks MQTT filter syntax: '#' only as the whole last
// level, '+' only as a whole level.
func ValidTopicFilter(f string) bool {
	if f == "" || len(f) > 1024 || strings.ContainsRune(f, 0) {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

func (c *Config) validateProjects(bad reporter) {
	c.validateOverlaps(bad)
	for i := range c.Projects {
		p := &c.Projects[i]
		key := fmt.Sprintf("projects[%d]", i)
		_, known := catalog.Lookup(p.Name)
		switch {
		case p.Name == "":
			bad(key+".name", "required: a catalog name (%s) or your own with a source", strings.Join(catalog.Names(), ", "))
		case !segmentRE.MatchString(p.Name):
			bad(key+".name", "%q: use letters, digits, '.', '_' and '-'", p.Name)
		case !known && p.Source == "":
			bad(key+".name", "%q is not in the catalog (micromirror node catalog); give a source to host it anyway", p.Name)
		}
		validateLayout(p, key, bad)
		if p.Source != "" && !isRsyncSource(p.Source) {
			bad(key+".source", "%q: want rsync://host/module[/path] or host::module[/path]", p.Source)
		}
		if len(p.Triggers) > telemetry.MaxTriggers {
			bad(key+".triggers", "%d modules; at most %d", len(p.Triggers), telemetry.MaxTriggers)
		}
		for j, t := range p.Triggers {
			if !topicRE.MatchString(t) {
				bad(fmt.Sprintf("%s.triggers[%d]", key, j), "%q: an upstream module name (no '/', '+' or '#')", t)
			}
		}
		for j, e := range p.Exclude {
			if strings.TrimSpace(e) == "" || strings.ContainsAny(e, "\n\x00") {
				bad(fmt.Sprintf("%s.exclude[%d]", key, j), "empty or malformed pattern")
			}
		}
		if err := p.Bwlimit.Err(); err != nil {
			bad(key+".bwlimit", "%v", err)
		} else if b := p.Bwlimit.BitsPerSecond(); b != 0 && b < 1e5 {
			bad(key+".bwlimit", "%d bit/s is too slow to sync anything; give a unit, e.g. 200Mbit", b)
		}
		if p.Stages != 0 && p.Stages != 1 && p.Stages != 2 {
			bad(key+".stages", "%d: want 1 or 2", p.Stages)
		}
		for _, f := range []struct {
			name string
			v    *string
		}{{"change_marker", p.ChangeMarker}, {"trace_dir", p.TraceDir}} {
			v := ""
			if f.v != nil {
				v = *f.v
			}
			if f.name == "change_marker" && strings.HasPrefix(v, "/") {
				v = v[1:] // from the upstream's root (KDE's /kdeftp/last-updated)
			}
			if f.v != nil && *f.v != "" && !isTreePath(v) {
				bad(key+"."+f.name, "%q must be a relative path inside the tree", *f.v)
			}
		}
		for _, list := range []struct {
			name  string
			paths []string
		}{{"upstream_markers", p.UpstreamMarkers}, {"manifests", p.Manifests}} {
			for j, m := range list.paths {
				if !isTreePath(m) {
					bad(fmt.Sprintf("%s.%s[%d]", key, list.name, j), "%q must be a relative path inside the tree", m)
				}
			}
		}
		if err := p.Schedule.Err(); err != nil {
			bad(key+".schedule", "%v", err)
		} else if p.Schedule.D() != 0 && p.Schedule.D() < time.Minute {
			bad(key+".schedule", "runs more often than once a minute would hammer the upstream")
		}
	}
}

// isTreePath accepts a relative slash path with no ".." component.
func isTreePath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\x00\n") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}

// IsUpstream accepts a hostname or address, with an optional port (an
// rsync daemon off port 873).
func IsUpstream(s string) bool {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Port() != 0
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return yamlconf.IsHostname(host)
}

// UpstreamHost is the host of an upstream given as host or host:port: the
// <upstream-host> of the MQTT topics.
func UpstreamHost(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return s
	}
	if host, port, ok := strings.Cut(s, ":"); ok && !strings.Contains(port, ":") {
		return host
	}
	return s
}

// IsContact reports whether s is an e-mail address or an http(s) URL.
func IsContact(s string) bool {
	if yamlconf.IsHTTPURL(s) {
		return true
	}
	_, err := mail.ParseAddress(s)
	return err == nil
}

// IsBrokerURL reports whether s is an MQTT broker URL the node can dial.
func IsBrokerURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" &&
		slices.Contains([]string{"tcp", "ssl", "tls", "mqtt", "mqtts", "ws", "wss"}, u.Scheme)
}

func isRsyncSource(s string) bool {
	if u, err := url.Parse(s); err == nil && u.Scheme == "rsync" {
		return u.Host != "" && strings.Trim(u.Path, "/") != ""
	}
	host, mod, ok := strings.Cut(s, "::")
	return ok && host != "" && mod != "" && !strings.ContainsAny(host, "/ ")
}

// validDomain reports whether d is a DNS name of letters, digits and
// hyphens in dot-separated labels.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
