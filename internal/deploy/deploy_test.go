package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

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
