package main

import (
	"context"
	"flag"
	"fmt"

	"micromirror/internal/demo"
)

const demoUsage = `Usage: micromirror demo [-keep] [-dir DIR]

Runs the whole constellation on loopback with nothing to configure: a
sample upstream (a Debian repository and a release tree) served by rsync,
the embedded MQTT broker, a watchtower on SQLite, and three nodes with
different sponsors and projects. It then publishes an update upstream,
announces it, and shows it reaching every node. Ctrl-C stops everything.

Flags:
`

func (m *Main) runDemo(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "keep the work dir when stopping")
	dir := fs.String("dir", "", "work dir (default: a new temp dir)")
	logLevel := fs.String("log-level", "warn", "components' log level: debug, info, warn or error")
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage); fs.PrintDefaults() }
	if code, done := parseFlags(fs, args); done {
		return code
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		fmt.Fprintf(stderr, "micromirror demo: %v\n", err)
		return 2
	}
	if err := demo.Run(ctx, demo.Options{Dir: *dir, Keep: *keep, Out: stdout, Log: log}); err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "micromirror demo: %v\n", err)
		return 1
	}
	return 0
}
