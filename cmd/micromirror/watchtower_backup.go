package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"micromirror/internal/store/postgres"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/watchtower"
)

const watchtowerBackupUsage = `Usage: micromirror watchtower backup -config watchtower.yaml -o FILE

Writes a consistent copy of the watchtower's store to FILE while the
watchtower keeps running; FILE is replaced only once the copy is whole.
SQLite: a compact database file (restore: stop the watchtower, put it in
place of db, remove db-wal and db-shm, start). PostgreSQL: a pg_dump
archive in the custom format (restore: pg_restore --clean --if-exists
--no-owner -d DATABASE FILE). docs/deploy.md has a daily timer for it.

Flags:
`

func (m *Main) runWatchtowerBackup(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	fs := flag.NewFlagSet("watchtower backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/micromirror/watchtower.yaml", "watchtower config file")
	out := fs.String("o", "", "the backup file to write (required)")
	fs.Usage = func() { fmt.Fprint(stderr, watchtowerBackupUsage); fs.PrintDefaults() }
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, err := watchtower.LoadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror watchtower backup: %v\n", err)
		return 1
	}
	start := time.Now()
	if cfg.IsPostgres() {
		err = postgres.Backup(ctx, cfg.DB, *out)
	} else {
		err = sqlite.Backup(ctx, cfg.DB, *out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "micromirror watchtower backup: %v\n", err)
		return 1
	}
	fi, err := os.Stat(*out)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror watchtower backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "backed up to %s: %d bytes in %v\n", *out, fi.Size(), time.Since(start).Round(time.Millisecond))
	return 0
}
