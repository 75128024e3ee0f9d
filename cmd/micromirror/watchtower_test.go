package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"micromirror/internal/testenv"
)

// TestWatchtowerCommand runs the subcommand on both stores and checks it
// answers; -hash-token prints what token_sha256 wants.
func TestWatchtowerCommand(t *testing.T) {
	code, out, _ := runWatchtowerCLI(t, strings.NewReader("s3cret\n"), "-hash-token")
	if code != 0 || strings.TrimSpace(out) != "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0" {
		t.Errorf("hash-token: %d %q", code, out)
	}
	for name, db := range map[string]string{"sqlite": "wt.db", "postgres": testenv.StartPostgres(t)} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cfg := fmt.Sprintf("listen: 127.0.0.1:%d\ndb: %q\nnodes:\n  - {name: n1.mm.example.net, token_sha256: 1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0}\n", port, db)
			os.WriteFile(filepath.Join(dir, "wt.yaml"), []byte(cfg), 0o644)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			var stderr lockedBuffer
			go func() {
				done <- runWatchtower(ctx, []string{"-config", filepath.Join(dir, "wt.yaml")}, nil, os.Stdout, &stderr)
			}()
			var resp *http.Response
			var err error
			for i := 0; i < 100; i++ {
				if resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/nodes", port)); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("nodes API: %v\n%s", err, stderr.String())
			}
			resp.Body.Close()
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

func runWatchtowerCLI(t *testing.T, stdin *strings.Reader, args ...string) (int, string, string) {
	var out, errb strings.Builder
	code := runWatchtower(context.Background(), args, stdin, &out, &errb)
	return code, out.String(), errb.String()
}
