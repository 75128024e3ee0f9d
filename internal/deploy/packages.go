package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// packages are the .deb files of a rollout by architecture, so a fleet of
// amd64 and arm64 hosts upgrades in one run: each host gets the one its
// dpkg --print-architecture names (or an "all" package).
type packages map[string]string

// loadPackages checks the files before anything is touched: each exists
// and is named as dpkg-deb and make deb name them,
// <package>_<version>_<arch>.deb, one per architecture.
func loadPackages(files []string) (packages, error) {
	p := packages{}
	for _, f := range files {
		fields := strings.Split(strings.TrimSuffix(filepath.Base(f), ".deb"), "_")
		if !strings.HasSuffix(f, ".deb") || len(fields) != 3 || fields[2] == "" {
			return nil, fmt.Errorf("-deb %s: not a <package>_<version>_<arch>.deb name", f)
		}
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("-deb %s: not a readable file", f)
		}
		if other, ok := p[fields[2]]; ok {
			return nil, fmt.Errorf("-deb: %s and %s are both for %s", other, f, fields[2])
		}
		p[fields[2]] = f
	}
	return p, nil
}

// forArch is the package a host of arch installs.
func (p packages) forArch(arch string) (string, error) {
	if f, ok := p[arch]; ok {
		return f, nil
	}
	if f, ok := p["all"]; ok {
		return f, nil
	}
	var have []string
	for a := range p {
		have = append(have, a)
	}
	sort.Strings(have)
	return "", fmt.Errorf("the host is %s and -deb has packages for %s only", arch, strings.Join(have, ", "))
}
