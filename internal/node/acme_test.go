package node_test

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
)

// loopbackDNS answers every A query with 127.0.0.1, over TCP (which
// Pebble's validator uses) and UDP on one port, so the validator reaches
// the node's HTTP listener for any name.
func loopbackDNS(t *testing.T) string {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		w.WriteMsg(m)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{Listener: ln, Handler: handler}, {PacketConn: pc, Handler: handler}} {
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
	}
	return ln.Addr().String()
}

// pebbleCA runs Pebble's ACME server in-process. Its handler waits until
// start is called with the node's HTTP port, which exists only once the
// node is open.
type pebbleCA struct {
	srv    *httptest.Server
	ready  chan struct{}
	h      http.Handler
	ca     *ca.CAImpl
	caFile string
	orders int
}

func newPebble(t *testing.T) *pebbleCA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	p := &pebbleCA{ready: make(chan struct{})}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-p.ready
		if strings.HasSuffix(r.URL.Path, "/order-plz") {
			p.orders++
		}
		p.h.ServeHTTP(w, r)
	}))
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	p.caFile = filepath.Join(t.TempDir(), "acme-server.pem")
	os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw}), 0o644)
	return p
}

func (p *pebbleCA) start(t *testing.T, httpPort int, resolver string) {
	logger := log.New(io.Discard, "", 0)
	store := db.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "test"}})
	v := va.New(logger, httpPort, 0, false, resolver, store)
	w := wfe.New(logger, store, v, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 3, 5)
	p.h = w.Handler()
	close(p.ready)
}

func (p *pebbleCA) rootPEM(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "pebble-root.pem")
	os.WriteFile(f, p.ca.GetRootCert(0).PEM(), 0o644)
	return f
}

// TestACMEWithPebble: the node obtains its certificate from an ACME server
// with HTTP-01 through its own HTTP listener, serves it, and after a
// restart reuses it from its cache instead of ordering again.
func TestACMEWithPebble(t *testing.T) {
	resolver := loopbackDNS(t)
	p := newPebble(t)
	cfg := testenv.NodeConfig(t, "debian")
	cfg.Name = "acme.mm.example.net"
	cfg.Listen.HTTP = []string{"127.0.0.1:0"}
	cfg.TLS = nodeconfig.TLS{ACME: &nodeconfig.ACME{Email: "noc@mm.example.net", Directory: p.srv.URL + "/dir", CAFile: p.caFile}}
	testenv.WriteFile(t, filepath.Join(cfg.DataDir, "debian/Release"), []byte("Origin: Debian\n"), syncedAt)
	n := testenv.StartNode(t, cfg)
	p.start(t, n.HTTPAddrs()[0].(*net.TCPAddr).Port, resolver)

	httpsPort := strconv.Itoa(n.HTTPSAddrs()[0].(*net.TCPAddr).Port)
	url := "https://acme.mm.example.net:" + httpsPort + "/debian/Release"
	root := p.rootPEM(t)
	fetch := func() (string, error) {
		return testenv.Curl(t, "--cacert", root, "--resolve", "acme.mm.example.net:"+httpsPort+":127.0.0.1", url)
	}
	var body string
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if body, err = fetch(); err == nil {
			break
		}
	}
	if err != nil || body != "Origin: Debian\n" {
		alog, _ := os.ReadFile(cfg.AccessLog)
		t.Logf("access log:\n%s", alog)
		t.Fatalf("no valid certificate from ACME: %v %q", err, body)
	}
	cached, _ := filepath.Glob(filepath.Join(cfg.StateDir, "acme", "acme.mm.example.net*"))
	if len(cached) == 0 {
		t.Fatalf("certificate not cached in state_dir/acme")
	}
	leaf := servedLeaf(t, n.HTTPSAddrs()[0].String())
	if leaf.Subject.CommonName != "acme.mm.example.net" && (len(leaf.DNSNames) == 0 || leaf.DNSNames[0] != "acme.mm.example.net") {
		t.Errorf("served certificate names %v", leaf.DNSNames)
	}

	// A restarted node serves the cached certificate without a new order.
	orders := p.orders
	n.Close(t.Context())
	n2 := testenv.StartNode(t, cfg)
	if l := servedLeaf(t, n2.HTTPSAddrs()[0].String()); l.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("restart served a different certificate")
	}
	time.Sleep(500 * time.Millisecond)
	if p.orders != orders {
		t.Errorf("restart placed %d new orders", p.orders-orders)
	}
}

func servedLeaf(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	out, err := testenv.Curl(t, "-k", "-w", "%{certs}", "-o", "/dev/null", "--resolve", "acme.mm.example.net:"+addr[strings.LastIndex(addr, ":")+1:]+":127.0.0.1",
		"https://acme.mm.example.net:"+addr[strings.LastIndex(addr, ":")+1:]+"/")
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	block, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
	if block == nil {
		t.Fatalf("no certificate in %q", out)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
