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
	code := run(context.WithValue(ctx, ownsProcess{}, true), os.Args[1:], hup, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// ownsProcess marks the context of main's own command line: a command may
// then change the whole process (a node started as root drops to its
// user), which a command run inside a test's process must not do.
type ownsProcess struct{}

// run dispatches a command line and returns the exit code: 0 success,
// 1 failure, 2 usage error (an unknown command among them).
func run(ctx context.Context, args []string, hup <-chan os.Signal, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "node":
		return runNode(ctx, args[1:], hup, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "micromirror %s\n", version)
		return 0
	case "announce":
		return runAnnounce(ctx, args[1:], hup, stdout, stderr)
	case "watchtower":
		return runWatchtower(ctx, args[1:], hup, os.Stdin, stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "fleet":
		return runFleet(ctx, args[1:], stdout, stderr)
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
