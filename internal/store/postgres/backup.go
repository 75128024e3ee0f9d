package postgres

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Backup dumps the database at dbURL to out with PostgreSQL's own pg_dump
// in its custom format (pg_restore reads it; one consistent snapshot
// while the watchtower writes). A password in the URL reaches pg_dump in
// its environment, never on its command line where ps shows it. The dump
// replaces out only once complete.
func Backup(ctx context.Context, dbURL, out string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("backup: the db URL does not parse") // the error would quote the URL
	}
	env := os.Environ()
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "pg_dump", "--format=custom", "--no-owner", "--file="+tmp.Name(), "--dbname="+u.String())
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backup: pg_dump: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
