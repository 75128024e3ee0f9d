package node_test

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"micromirror/internal/testenv"
)

var tosRE = regexp.MustCompile(`\((?:tos|class) (0x[0-9a-f]+)`)

// dscpOf returns the DSCP field of a tcpdump -v header line; tcpdump omits
// the IPv6 class when it is zero.
func dscpOf(line string) int {
	m := tosRE.FindStringSubmatch(line)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseInt(m[1], 0, 32)
	return int(v) >> 2 // drop the two ECN bits
}

func port(a net.Addr) int { return a.(*net.TCPAddr).Port }

// TestDSCPOnTheWire captures the node's egress on loopback and checks every
// packet it sends, over HTTP (IPv4 and IPv6), HTTPS and rsync, carries CS1
// (DSCP 8), and that dscp: none leaves packets unmarked.
func TestDSCPOnTheWire(t *testing.T) {
	for _, tt := range []struct {
		dscp string
		want int
	}{{"cs1", 8}, {"none", 0}} {
		t.Run(tt.dscp, func(t *testing.T) {
			testenv.RequireBinary(t, "rsync")
			cfg := testenv.NodeConfig(t, "debian")
			cfg.DSCP = tt.dscp
			testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/big.deb"), make([]byte, 1<<20), syncedAt)
			n := testenv.StartNode(t, cfg)
			h4, h6, hs, rs := n.HTTPAddrs()[0], n.HTTPAddrs()[1], n.HTTPSAddrs()[0], n.RsyncAddrs()[0]
			capt := testenv.StartCapture(t, fmt.Sprintf("tcp and (src port %d or src port %d or src port %d or src port %d)",
				port(h4), port(h6), port(hs), port(rs)))
			curl(t, "-o", "/dev/null", testenv.URL("http", h4)+"/debian/big.deb")
			curl(t, "-o", "/dev/null", testenv.URL("http", h6)+"/debian/big.deb")
			curl(t, "-k", "-o", "/dev/null", testenv.URL("https", hs)+"/debian/big.deb")
			if out, err := exec.Command("rsync", "rsync://"+rs.String()+"/debian/big.deb", t.TempDir()+"/").CombinedOutput(); err != nil {
				t.Fatalf("rsync: %v\n%s", err, out)
			}
			lines := capt.Stop()
			var v4, v6 int
			for _, l := range lines {
				if strings.Contains(l, " IP6 (") {
					v6++
				} else {
					v4++
				}
				if got := dscpOf(l); got != tt.want {
					t.Fatalf("packet with DSCP %d, want %d: %s", got, tt.want, l)
				}
			}
			// Handshake replies, data and FINs of four transfers at least.
			if v4 < 12 || v6 < 3 {
				t.Fatalf("captured too few server packets (IPv4 %d, IPv6 %d)", v4, v6)
			}
			t.Logf("checked %d IPv4 and %d IPv6 packets", v4, v6)
		})
	}
}
