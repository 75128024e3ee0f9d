package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/render"
)

// TestSecretChanges: a secret is named as changing when the node has none
// of that name or another sum; the same content is not; node.yaml is no
// secret.
func TestSecretChanges(t *testing.T) {
	sum := func(s string) string { b := sha256.Sum256([]byte(s)); return hex.EncodeToString(b[:]) }
	local := map[string]render.File{
		"node.yaml":                {Data: []byte("name: a\n")},
		"secrets/telemetry.token":  {Data: []byte("tok")},
		"secrets/mqtt.password":    {Data: []byte("new")},
		"secrets/acme.account.key": {Data: []byte("key")},
	}
	remote := sum("tok") + "  telemetry.token\n" + sum("old") + "  mqtt.password\n" + sum("x") + "  stale.file\n"
	got := secretChanges(local, remote)
	want := []string{"secrets/acme.account.key", "secrets/mqtt.password"}
	if !slices.Equal(got, want) {
		t.Errorf("secretChanges = %v, want %v", got, want)
	}
	if got := diff("node.yaml", "a\n", "b\n", got); !contains(got, "-a", "+b", "secret secrets/mqtt.password changes (not shown)") || contains(got, "new") {
		t.Errorf("diff:\n%s", got)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestCheckAdmin: the projects must be the config's; a project failed or
// refused since the apply fails the check, one that was failing before
// and has not run since does not.
func TestCheckAdmin(t *testing.T) {
	cfg := nodeconfig.Config{Projects: []nodeconfig.Project{{Name: "debian"}, {Name: "ubuntu"}}}
	t0, t1 := time.Unix(1000, 0), time.Unix(2000, 0)
	ok := func(name string) projectState { return projectState{Name: name, State: "idle", LastAttempt: t0} }
	failedAt := func(name string, at time.Time) projectState {
		return projectState{Name: name, State: "failed", LastAttempt: at, LastError: "rsync: unknown module"}
	}
	for _, c := range []struct {
		name        string
		before, now []projectState
		want        string // in the error; empty: no error
	}{
		{"healthy", nil, []projectState{ok("debian"), ok("ubuntu")}, ""},
		{"a project missing", nil, []projectState{ok("debian")}, "admin status lists [debian], the config [debian ubuntu]"},
		{"an extra project", nil, []projectState{ok("debian"), ok("ubuntu"), ok("arch")}, "lists [arch debian ubuntu]"},
		{"failed since the apply", []projectState{ok("debian"), ok("ubuntu")}, []projectState{ok("debian"), failedAt("ubuntu", t1)},
			"ubuntu failed: rsync: unknown module"},
		{"failed on a first rollout", nil, []projectState{ok("debian"), failedAt("ubuntu", t1)}, "ubuntu failed"},
		{"failing before, not run since", []projectState{ok("debian"), failedAt("ubuntu", t0)},
			[]projectState{ok("debian"), failedAt("ubuntu", t0)}, ""},
		{"failing before, failed again", []projectState{ok("debian"), failedAt("ubuntu", t0)},
			[]projectState{ok("debian"), failedAt("ubuntu", t1)}, "ubuntu failed"},
		{"refused since", nil, []projectState{ok("debian"), {Name: "ubuntu", State: "refused", LastAttempt: t1, LastError: "would delete 40%"}},
			"ubuntu refused: would delete 40%"},
	} {
		err := checkAdmin(cfg, c.before, c.now)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestLoadPackages(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"micromirror_1.2_amd64.deb", "micromirror_1.2_arm64.deb", "micromirror_1.1_amd64.deb", "micromirror.deb", "tool_1_all.deb"} {
		os.WriteFile(filepath.Join(dir, n), []byte("!<arch>\n"), 0o644)
	}
	at := func(n string) string { return filepath.Join(dir, n) }
	p, err := loadPackages([]string{at("micromirror_1.2_amd64.deb"), at("micromirror_1.2_arm64.deb")})
	if err != nil {
		t.Fatal(err)
	}
	if f, err := p.forArch("arm64"); err != nil || f != at("micromirror_1.2_arm64.deb") {
		t.Errorf("arm64: %s %v", f, err)
	}
	if _, err := p.forArch("riscv64"); err == nil || !strings.Contains(err.Error(), "the host is riscv64 and -deb has packages for amd64, arm64 only") {
		t.Errorf("riscv64: %v", err)
	}
	if p, _ := loadPackages([]string{at("tool_1_all.deb")}); p == nil {
		t.Error("an all package refused")
	} else if f, err := p.forArch("riscv64"); err != nil || f != at("tool_1_all.deb") {
		t.Errorf("all: %s %v", f, err)
	}
	for _, bad := range [][]string{
		{at("micromirror.deb")},
		{at("micromirror_1.2_amd64.deb"), at("micromirror_1.1_amd64.deb")},
		{at("micromirror_9_amd64.deb")},
		{at("micromirror_1.2_amd64.tar")},
	} {
		if _, err := loadPackages(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
