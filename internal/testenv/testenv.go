// Package testenv starts the real programs tests talk to (the node, rsync,
// curl, apt-get) on loopback, with temp dirs and port 0.
package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"

	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
)

// RequireBinary returns the path of a program the test needs. Missing, it
// fails the test under CI (where scripts/deps.sh installed everything) and
// skips with a loud reason on a developer's machine.
func RequireBinary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s is required (run scripts/deps.sh): %v", name, err)
	}
	tb.Skipf("SKIPPING: %s not installed; run scripts/deps.sh", name)
	return ""
}

// RequireRoot skips (or fails under CI) tests that need root, such as
// packet captures.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("this test needs root (CI runs as root)")
	}
	tb.Skip("SKIPPING: needs root")
}

// Logger returns a logger that writes into the test log.
func Logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// LoggerTo is Logger that also writes into w, for a test that waits for
// what a component logs.
func LoggerTo(tb testing.TB, w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(tbWriter{tb}, w), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// PublicTempDir is a test's temp dir that other users may enter, as
// /srv/mirror is: for nodes that run (or run rsync) as nobody while the
// tests run as root.
func PublicTempDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	return dir
}

// NodeConfig is a valid config on loopback port 0 with temp dirs and the
// given projects; tests adjust it before StartNode.
func NodeConfig(tb testing.TB, projects ...string) nodeconfig.Config {
	tb.Helper()
	// rsync sessions run as nobody when the tests run as root.
	dir := PublicTempDir(tb)
	cfg := nodeconfig.Default()
	cfg.Name = "test.mm.example.net"
	cfg.Sponsor = nodeconfig.Sponsor{Name: "Example Sponsor", URL: "https://sponsor.example.com/"}
	cfg.Contact = "noc@mm.example.net"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.AccessLog = filepath.Join(dir, "access.log")
	cfg.Listen = nodeconfig.Listen{
		HTTP:  []string{"127.0.0.1:0", "[::1]:0"},
		HTTPS: []string{"127.0.0.1:0"},
		Rsync: []string{"127.0.0.1:0"},
		Admin: []string{"127.0.0.1:0"},
	}
	cfg.TLS = nodeconfig.TLS{SelfSigned: true}
	cfg.User = "nobody" // rsync sessions of a node in a root test process
	cfg.Limits.RateLimit.PerSecond = 0
	for _, p := range projects {
		cfg.Projects = append(cfg.Projects, nodeconfig.Project{Name: p})
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		tb.Fatalf("test config invalid: %v", errs[0])
	}
	return cfg
}

// StartNode opens a node and closes it when the test ends.
func StartNode(tb testing.TB, cfg nodeconfig.Config) *node.Node {
	tb.Helper()
	if errs := cfg.Validate(); len(errs) > 0 {
		tb.Fatalf("config invalid: %v", errs[0])
	}
	n := node.New(cfg, Logger(tb))
	if err := n.Open(context.Background()); err != nil {
		tb.Fatalf("open node: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n
}

// WriteFile creates a file (and its dirs) with content and mtime.
func WriteFile(tb testing.TB, path string, data []byte, mtime time.Time) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			tb.Fatal(err)
		}
	}
}

// Run runs a command and returns its combined output, failing on error.
func Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// Curl runs curl with the args and returns stdout; stderr goes to the log.
// -s and a short overall timeout are always added.
func Curl(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	RequireBinary(tb, "curl")
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "20"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if stderr.Len() > 0 {
		tb.Logf("curl %v: %s", args, stderr.String())
	}
	return string(out), err
}

// URL returns scheme://addr for an address of the node.
func URL(scheme string, a net.Addr) string { return scheme + "://" + a.String() }

// SelfSignedPEM writes a certificate and key for 127.0.0.1 and localhost
// with openssl, for servers that read PEM files.
func SelfSignedPEM(tb testing.TB) (certFile, keyFile string) {
	tb.Helper()
	RequireBinary(tb, "openssl")
	dir := tb.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	Run(tb, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
		"-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", keyFile, "-out", certFile)
	return certFile, keyFile
}

// TLSTrusting returns a client TLS config that trusts one PEM certificate.
func TLSTrusting(tb testing.TB, certFile string) *tls.Config {
	tb.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool}
}

// DpkgRoot makes an empty dpkg database under root, for dpkg --root: the
// system tree a test installs packages into.
func DpkgRoot(tb testing.TB, root string) {
	tb.Helper()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}
