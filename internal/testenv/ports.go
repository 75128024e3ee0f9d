package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FreePort asks the kernel for a free loopback port, for programs that
// read their ports from a config file and so cannot report port 0 back.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Binary compiles micromirror for a test and returns its path.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "micromirror")
	cmd := exec.Command("go", "build", "-o", bin, "micromirror/cmd/micromirror")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build and the package: static
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}
