package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"micromirror/internal/demo"
)

// BuildDebianRepo builds a small apt repository in dir (demo.BuildDebianRepo),
// failing the test on error.
func BuildDebianRepo(tb testing.TB, dir string, version string, names ...string) {
	tb.Helper()
	RequireBinary(tb, "dpkg-deb")
	RequireBinary(tb, "apt-ftparchive")
	if err := demo.BuildDebianRepo(dir, version, names...); err != nil {
		tb.Fatal(err)
	}
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
