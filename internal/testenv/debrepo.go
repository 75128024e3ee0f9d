package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildDebianRepo builds a small signed-less apt repository in dir (suite
// "stable", component "main", amd64) with one package per name, version
// "1.0", made with dpkg-deb and indexed with apt-ftparchive, as a real
// archive is.
func BuildDebianRepo(tb testing.TB, dir string, version string, names ...string) {
	tb.Helper()
	RequireBinary(tb, "dpkg-deb")
	RequireBinary(tb, "apt-ftparchive")
	work := tb.TempDir()
	for _, name := range names {
		pkg := filepath.Join(work, name)
		os.MkdirAll(filepath.Join(pkg, "DEBIAN"), 0o755)
		os.MkdirAll(filepath.Join(pkg, "usr/share/doc", name), 0o755)
		os.WriteFile(filepath.Join(pkg, "usr/share/doc", name, "README"), []byte(strings.Repeat(name+" ", 2000)), 0o644)
		control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: Test <t@example.net>\nDescription: test package %s\n", name, version, name)
		os.WriteFile(filepath.Join(pkg, "DEBIAN/control"), []byte(control), 0o644)
		deb := filepath.Join(dir, "pool/main", name[:1], name, fmt.Sprintf("%s_%s_amd64.deb", name, version))
		os.MkdirAll(filepath.Dir(deb), 0o755)
		Run(tb, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", pkg, deb)
	}
	IndexDebianRepo(tb, dir)
}

// IndexDebianRepo (re)writes Packages, Packages.gz and Release for the
// pool in dir.
func IndexDebianRepo(tb testing.TB, dir string) {
	tb.Helper()
	bin := filepath.Join(dir, "dists/stable/main/binary-amd64")
	os.MkdirAll(bin, 0o755)
	cmd := exec.Command("apt-ftparchive", "packages", "pool")
	cmd.Dir = dir
	pk, err := cmd.Output()
	if err != nil {
		tb.Fatalf("apt-ftparchive packages: %v", err)
	}
	os.WriteFile(filepath.Join(bin, "Packages"), pk, 0o644)
	Run(tb, "sh", "-c", fmt.Sprintf("gzip -9nc %s/Packages > %s/Packages.gz", bin, bin))
	rel := exec.Command("apt-ftparchive",
		"-o", "APT::FTPArchive::Release::Suite=stable", "-o", "APT::FTPArchive::Release::Codename=stable",
		"-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64",
		"release", "dists/stable")
	rel.Dir = dir
	out, err := rel.Output()
	if err != nil {
		tb.Fatalf("apt-ftparchive release: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "dists/stable/Release"), out, 0o644)
}

// Apt is an apt-get confined to a temp dir: its own sources, lists, cache
// and status, so tests never touch the machine's apt state.
type Apt struct {
	tb   testing.TB
	root string
}

// NewApt prepares apt state with one source line (e.g.
// "deb [trusted=yes] http://127.0.0.1:1234/debian stable main").
func NewApt(tb testing.TB, source string) *Apt {
	tb.Helper()
	RequireBinary(tb, "apt-get")
	root := tb.TempDir()
	for _, d := range []string{"lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/preferences.d", "etc/apt.conf.d", "work"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "etc/sources.list"), []byte(source+"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "status"), nil, 0o644)
	return &Apt{tb: tb, root: root}
}

// Run runs apt-get with the args in the apt's work dir and returns its
// output and error.
func (a *Apt) Run(args ...string) (string, error) {
	opts := []string{
		"-o", "Dir::Etc::SourceList=" + filepath.Join(a.root, "etc/sources.list"),
		"-o", "Dir::Etc::SourceParts=" + filepath.Join(a.root, "etc/sources.list.d"),
		"-o", "Dir::Etc::Parts=" + filepath.Join(a.root, "etc/apt.conf.d"),
		"-o", "Dir::Etc::PreferencesParts=" + filepath.Join(a.root, "etc/preferences.d"),
		"-o", "Dir::State::Lists=" + filepath.Join(a.root, "lists"),
		"-o", "Dir::State::status=" + filepath.Join(a.root, "status"),
		"-o", "Dir::Cache=" + filepath.Join(a.root, "cache"),
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture=amd64",
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::Retries=0",
		"-o", "Acquire::https::Verify-Peer=false",
		"-o", "Acquire::https::Verify-Host=false",
		"-o", "APT::Sandbox::User=root",
		"-q",
	}
	cmd := exec.Command("apt-get", append(opts, args...)...)
	cmd.Dir = filepath.Join(a.root, "work")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// WorkDir is where apt-get download puts files.
func (a *Apt) WorkDir() string { return filepath.Join(a.root, "work") }
