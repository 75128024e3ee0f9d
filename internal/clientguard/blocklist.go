// Package clientguard protects the node from abusive clients: a CIDR blocklist
// file and an nginx limit_req style rate limit per client prefix, neither of
// which ever touches the distros' mirror checkers.
package clientguard

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"micromirror/internal/yamlconf"
)

// Blocklist is a set of prefixes, swapped whole on reload so lookups never
// take a lock.
type Blocklist struct {
	prefixes atomic.Pointer[[]netip.Prefix]
}

// NewBlocklist returns an empty blocklist.
func NewBlocklist() *Blocklist {
	b := &Blocklist{}
	b.prefixes.Store(&[]netip.Prefix{})
	return b
}

// LoadFile replaces the list with a file's prefixes. On any bad line the old
// list stays and the error names the line, so a typo never unblocks anyone
// nor blocks everyone. An empty path empties the list.
func (b *Blocklist) LoadFile(path string) (int, error) {
	if path == "" {
		b.prefixes.Store(&[]netip.Prefix{})
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("blocklist: %w", err)
	}
	defer f.Close()
	ps, err := ParseBlocklist(path, f)
	if err != nil {
		return 0, err
	}
	b.prefixes.Store(&ps)
	return len(ps), nil
}

// ParseBlocklist reads one address or CIDR prefix per line; '#' starts a
// comment.
func ParseBlocklist(name string, r io.Reader) ([]netip.Prefix, error) {
	var out []netip.Prefix
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p, err := yamlconf.ParsePrefix(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Contains reports whether addr is blocked.
func (b *Blocklist) Contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range *b.prefixes.Load() {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Len is the number of prefixes in force.
func (b *Blocklist) Len() int { return len(*b.prefixes.Load()) }
