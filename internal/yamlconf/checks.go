package yamlconf

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

var hostnameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// IsHostname reports whether s is a lowercase DNS hostname.
func IsHostname(s string) bool { return hostnameRE.MatchString(s) }

// ParsePrefix accepts a CIDR prefix or a single address.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
}

// IsHTTPURL reports whether s is an absolute http or https URL.
func IsHTTPURL(s string) bool { return isHTTPURL(s) }

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
