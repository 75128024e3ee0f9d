package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/testenv"
	"micromirror/internal/testenv/logbuf"
	"micromirror/internal/watchtower"
)

// TestWatchtowerCommand runs the subcommand on both stores and checks it
// answers; -hash-token prints what token_sha256 wants.
func TestWatchtowerCommand(t *testing.T) {
	code, out, _ := runWatchtowerCLI(t, strings.NewReader("s3cret\n"), "-hash-token")
	if code != 0 || strings.TrimSpace(out) != "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0" {
		t.Errorf("hash-token: %d %q", code, out)
	}
	pgURL, socketDir := testenv.StartPostgresServer(t)
	u, _ := url.Parse(pgURL)
	// A watchtower beside its database: the Unix socket, no password
	// anywhere (docs/deploy.md; peer authentication on a real host).
	socketURL := fmt.Sprintf("postgres:///postgres?host=%s&port=%s&user=postgres", socketDir, u.Port())
	for name, db := range map[string]string{"sqlite": "wt.db", "postgres": pgURL, "postgres-socket": socketURL} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			port := testenv.FreePort(t)
			cfg := fmt.Sprintf("listen: 127.0.0.1:%d\ndb: %q\nnodes:\n  - {name: n1.mm.example.net, token_sha256: 1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0}\noperator_token_sha256: %s\n",
				port, db, watchtower.HashToken(testenv.OperatorToken))
			os.WriteFile(filepath.Join(dir, "wt.yaml"), []byte(cfg), 0o644)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			var stderr logbuf.Buffer
			go func() {
				done <- (&Main{Stdout: os.Stdout, Stderr: &stderr}).Run(ctx, []string{"watchtower", "-config", filepath.Join(dir, "wt.yaml")})
			}()
			var resp *http.Response
			var err error
			for i := 0; i < 100; i++ {
				if resp, err = testenv.OperatorGet(fmt.Sprintf("http://127.0.0.1:%d/api/v1/nodes", port)); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("nodes API: %v\n%s", err, stderr.String())
			}
			resp.Body.Close()
			// A backup while it runs.
			backup := filepath.Join(dir, "backup")
			code, out, errOut := runWatchtowerCLI(t, nil, "backup", "-config", filepath.Join(dir, "wt.yaml"), "-o", backup)
			if fi, err := os.Stat(backup); code != 0 || !strings.HasPrefix(out, "backed up to "+backup) || err != nil || fi.Size() == 0 {
				t.Errorf("backup: %d %q %q %v", code, out, errOut, err)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d\n%s", code, stderr.String())
			}
			if strings.Contains(stderr.String(), "postgres://") {
				t.Errorf("the database URL reached the log")
			}
		})
	}
}

// TestWatchtowerRereadsNodesOnHUP: a node added to nodes_file (as fleet
// render writes it) may push once the watchtower got SIGHUP, a node taken
// out may not, and a broken file keeps the running list.
func TestWatchtowerRereadsNodesOnHUP(t *testing.T) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	nodesFile := filepath.Join(dir, "nodes.yaml")
	writeNodes := func(body string) {
		t.Helper()
		if err := os.WriteFile(nodesFile, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	node := func(name, token string) string {
		return fmt.Sprintf("  - {name: %s, token_sha256: %s}\n", name, watchtower.HashToken(token))
	}
	writeNodes("nodes:\n" + node("a.mm.example.net", "token-a"))
	cfg := fmt.Sprintf("listen: 127.0.0.1:%d\ndb: %q\nnodes_file: nodes.yaml\n", port, filepath.Join(dir, "wt.db"))
	os.WriteFile(filepath.Join(dir, "wt.yaml"), []byte(cfg), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan int, 1)
	var stderr logbuf.Buffer
	go func() {
		done <- (&Main{Stdout: os.Stdout, Stderr: &stderr, HUP: hup}).Run(ctx, []string{"watchtower", "-config", filepath.Join(dir, "wt.yaml")})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d\n%s", code, stderr.String())
		}
	}()
	// status of a push with token: 401 for an unknown node, 400 for a
	// known one (the body is not a batch).
	status := func(token string) int {
		req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/api/v1/ingest", port), strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// eventually waits for the statuses of both tokens to become want.
	eventually := func(what string, wantA, wantB int) {
		t.Helper()
		var a, b int
		for i := 0; i < 100; i++ {
			if a, b = status("token-a"), status("token-b"); a == wantA && b == wantB {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: token-a %d, token-b %d, want %d, %d\n%s", what, a, b, wantA, wantB, stderr.String())
	}
	eventually("at start", 400, 401)

	writeNodes("nodes:\n" + node("a.mm.example.net", "token-a") + node("b.mm.example.net", "token-b"))
	hup <- syscall.SIGHUP
	eventually("b added", 400, 400)

	writeNodes("nodes:\n  - {name: c.mm.example.net, token_sha256: nothex}\n")
	hup <- syscall.SIGHUP
	for i := 0; i < 100 && !strings.Contains(stderr.String(), "keeping the running node list"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "token_sha256") {
		t.Errorf("a broken nodes file was not reported with its key:\n%s", stderr.String())
	}
	eventually("broken file", 400, 400)

	writeNodes("nodes:\n" + node("b.mm.example.net", "token-b"))
	hup <- syscall.SIGHUP
	eventually("a taken out", 401, 400)
}

func runWatchtowerCLI(t *testing.T, stdin *strings.Reader, args ...string) (int, string, string) {
	var out, errb strings.Builder
	m := &Main{Stdout: &out, Stderr: &errb}
	if stdin != nil {
		m.Stdin = stdin
	}
	code := m.Run(context.Background(), append([]string{"watchtower"}, args...))
	return code, out.String(), errb.String()
}
