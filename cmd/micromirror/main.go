// Command micromirror runs every part of a micromirror fleet: the mirror
// node, the upstream announcer, the watchtower, the operator's fleet tools
// and a one-machine demo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"micromirror/internal/node"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `micromirror: a fleet of small download mirrors

Usage: micromirror <command> [flags]

Commands:
  node        serve mirrored projects over HTTP, HTTPS and rsync, and keep them synced
  announce    publish upstream change messages over MQTT (one-shot or watching daemon)
  watchtower  collect the fleet's telemetry: storage, API, status and sponsor pages, alerts, probes
  fleet       operator tools: inventory checks, placement, configs, registrations
  demo        the whole constellation on one machine, nothing to configure
  version     print the version

Run 'micromirror <command> -help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	node.Version = version
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, HUP: hup, OwnsProcess: true}
	code := m.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main is the program as main runs it: its streams and signals (a stream
// left nil reads nothing or writes nowhere). Every
// command is a method of it, so a test boots any command whole, with
// streams of its own, exactly as the binary does; each command parses
// its flags, runs until its work is done or ctx ends, and closes what it
// opened before it returns its exit code.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// HUP delivers SIGHUP, a reload for the long-running commands; nil
	// never delivers.
	HUP <-chan os.Signal
	// OwnsProcess lets a command change the whole process (a node
	// started as root drops to its user), which a command run inside a
	// test's process must not do.
	OwnsProcess bool
}

// Run dispatches a command line and returns the exit code: 0 success,
// 1 failure, 2 usage error (an unknown command among them).
func (m *Main) Run(ctx context.Context, args []string) int {
	if m.Stdin == nil {
		m.Stdin = strings.NewReader("")
	}
	if m.Stdout == nil {
		m.Stdout = io.Discard
	}
	if m.Stderr == nil {
		m.Stderr = io.Discard
	}
	stdout, stderr := m.Stdout, m.Stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "node":
		return m.runNode(ctx, args[1:])
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "micromirror %s\n", version)
		return 0
	case "announce":
		return m.runAnnounce(ctx, args[1:])
	case "watchtower":
		return m.runWatchtower(ctx, args[1:])
	case "demo":
		return m.runDemo(ctx, args[1:])
	case "fleet":
		return m.runFleet(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "micromirror: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// parseFlags parses a subcommand's flags. done says the command ends here
// with code: 0 after -help, 2 for bad flags (the flag package has printed
// why).
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	switch err := fs.Parse(args); {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	default:
		return 2, true
	}
}
