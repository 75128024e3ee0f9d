package watchtower_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"micromirror/internal/watchtower"
)

// TestConfigErrorsNameKeyAndLine: each bad value of watchtower.yaml and
// of its nodes_file is reported with the file, the line and the key at
// fault, all of them at once; a good config loads (its country in
// capitals, as the overview shows it).
func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	dir := t.TempDir()
	tok := watchtower.HashToken("t")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nodesFile := write("nodes.yaml", `nodes:
  - name: b.mm.example.net
    token_sha256: `+tok+`
    country: Narnia
`)
	cfg := write("watchtower.yaml", `db: wt.db
alerts:
  webhook: ftp://chat.example.net/
nodes_file: nodes.yaml
nodes:
  - name: a.mm.example.net
    token_sha256: `+tok+`
    sponsor: Ziply Fiber
    sponsor_url: ziplyfiber.com
    country: US
    probes: ["gopher://a.mm.example.net/"]
  - name: c.mm.example.net
    token_sha256: short
`)
	_, err := watchtower.LoadConfig(cfg)
	if err == nil {
		t.Fatal("a bad config loaded")
	}
	for _, want := range []string{
		cfg + ":3: alerts.webhook: \"ftp://chat.example.net/\" is not an http(s) URL",
		cfg + ":9: nodes[0].sponsor_url: \"ziplyfiber.com\" is not an http(s) URL",
		cfg + ":11: nodes[0].probes[0]:",
		cfg + ":13: nodes[1].token_sha256: want the 64 hex digits",
		nodesFile + ":4: nodes[0].country: \"Narnia\" is not an ISO 3166-1 alpha-2 country code",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "nodes[0].country: \"US\"") {
		t.Errorf("a good country refused: %v", err)
	}
	good := write("good.yaml", "db: wt.db\nnodes:\n  - {name: a.mm.example.net, token_sha256: "+tok+", sponsor_url: \"https://ziplyfiber.com/\", country: us}\n")
	if c, err := watchtower.LoadConfig(good); err != nil || c.Nodes[0].Country != "US" {
		t.Errorf("a good config: %+v %v", c.Nodes, err)
	}
}
