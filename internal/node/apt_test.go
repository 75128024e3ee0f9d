package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"micromirror/internal/testenv"
)

// TestAptGet: the real apt client updates from and downloads through the
// node, over HTTP and HTTPS, from a repository built like Debian's.
func TestAptGet(t *testing.T) {
	cfg := testenv.NodeConfig(t, "debian")
	testenv.BuildDebianRepo(t, filepath.Join(cfg.DataDir, "debian"), "1.0", "hello", "mirror-tool")
	n := testenv.StartNode(t, cfg)
	for name, base := range map[string]string{
		"http-ipv4": testenv.URL("http", n.HTTPAddrs()[0]),
		"http-ipv6": testenv.URL("http", n.HTTPAddrs()[1]),
		"https":     testenv.URL("https", n.HTTPSAddrs()[0]),
	} {
		t.Run(name, func(t *testing.T) {
			apt := testenv.NewApt(t, "deb [trusted=yes] "+base+"/debian stable main")
			out, err := apt.Run("update")
			if err != nil || strings.Contains(out, "Err:") || strings.Contains(out, "W:") {
				t.Fatalf("apt-get update: %v\n%s", err, out)
			}
			out, err = apt.Run("download", "hello", "mirror-tool")
			if err != nil {
				t.Fatalf("apt-get download: %v\n%s", err, out)
			}
			for _, f := range []string{"hello_1.0_amd64.deb", "mirror-tool_1.0_amd64.deb"} {
				got, err := os.ReadFile(filepath.Join(apt.WorkDir(), f))
				want, _ := os.ReadFile(filepath.Join(cfg.DataDir, "debian/pool/main", f[:1], strings.Split(f, "_")[0], f))
				if err != nil || string(got) != string(want) {
					t.Errorf("%s: downloaded file differs (%v)", f, err)
				}
			}
		})
	}
}
