package nodeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"micromirror/internal/yamlconf"
)

// TestCheckFiles: -check looks past the config at what it points to, as
// the node's user will use it, and names the key and line of each
// problem. A config pointing at a blocklist that did not exist, or an
// access log in a directory nobody had made, checked ok and failed at
// start.
func TestCheckFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("makes files of other owners' modes readable to no one but root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	os.MkdirAll(filepath.Join(dir, "data/debian"), 0o755) // root's, 0755: not another's to write
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), []byte("x"), 0o600) // root's alone
	os.MkdirAll(filepath.Join(dir, "closed"), 0o700)
	src := []byte(`name: a.mm.example.net
sponsor: {name: A}
contact: noc@mm.example.net
data_dir: ` + dir + `/data
state_dir: ` + dir + `/closed/state
access_log: ` + dir + `/logs/access.log
limits:
  blocklist: ` + dir + `/blocklist
tls:
  cert_file: ` + dir + `/cert.pem
  key_file: ` + dir + `/key.pem
projects: [{name: debian}]
`)
	path := filepath.Join(dir, "node.yaml")
	cfg, err := Parse(path, src)
	if err != nil {
		t.Fatal(err)
	}
	someone := Account{Name: "someone", UID: 4242, GIDs: []int{4242}}
	err = yamlconf.Locate(path, src, cfg.CheckFiles(someone))
	if err == nil {
		t.Fatal("no problem found")
	}
	for _, want := range []string{
		path + ":4: data_dir: " + dir + "/data is not writable by someone",
		path + ":5: state_dir: someone cannot enter " + dir + "/closed",
		path + ":6: access_log: the directory " + dir + "/logs does not exist",
		path + ":8: limits.blocklist: " + dir + "/blocklist does not exist",
		path + ":11: tls.key_file: " + dir + "/key.pem is not readable by someone",
		path + ":12: projects[0]: " + dir + "/data/debian is not writable by someone",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "cert_file") {
		t.Errorf("a readable certificate reported:\n%v", err)
	}
	// Started as root, the node makes and hands over its own dirs and
	// log: those need only be reachable; files it reads still must be
	// readable.
	someone.RootStart = true
	err = yamlconf.Locate(path, src, cfg.CheckFiles(someone))
	got := ""
	if err != nil {
		got = err.Error()
	}
	for _, gone := range []string{"data_dir", "access_log", "projects[0]"} {
		if strings.Contains(got, gone) {
			t.Errorf("root start: %s still reported:\n%s", gone, got)
		}
	}
	for _, still := range []string{"state_dir", "limits.blocklist", "tls.key_file"} {
		if !strings.Contains(got, still) {
			t.Errorf("root start: %s not reported:\n%s", still, got)
		}
	}
}
