package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"testing"
)

// StartPostgres runs a throwaway PostgreSQL server (initdb + pg_ctl in a
// temp dir, loopback, random port) and returns its URL. As root it runs
// the server as the postgres user, since PostgreSQL refuses root.
func StartPostgres(tb testing.TB) string {
	tb.Helper()
	url, _ := StartPostgresServer(tb)
	return url
}

// StartPostgresServer is StartPostgres, and also returns the directory of
// the server's Unix socket (what a watchtower beside its database uses).
func StartPostgresServer(tb testing.TB) (url, socketDir string) {
	tb.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(bins)
	if len(bins) == 0 {
		RequireBinary(tb, "initdb") // fails under CI, skips elsewhere
	}
	bindir := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "mm-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	data := filepath.Join(dir, "data")
	var as []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root needs the postgres user: %v", err)
		}
		as = []string{"runuser", "-u", "postgres", "--"}
		exec.Command("chown", u.Uid+":"+u.Gid, dir).Run()
	}
	run := func(args ...string) {
		tb.Helper()
		full := append(append([]string{}, as...), args...)
		if out, err := exec.Command(full[0], full[1:]...).CombinedOutput(); err != nil {
			tb.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run(filepath.Join(bindir, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	port := FreePort(tb)
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -F -c fsync=off -c full_page_writes=off", port, dir)
	run(filepath.Join(bindir, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start")
	tb.Cleanup(func() {
		full := append(append([]string{}, as...), filepath.Join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		exec.Command(full[0], full[1:]...).Run()
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), dir
}
