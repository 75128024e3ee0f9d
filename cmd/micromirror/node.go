package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"micromirror/internal/catalog"
	"micromirror/internal/hosthealth"
	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/yamlconf"
)

const nodeUsage = `Usage: micromirror node [flags]             run the node
       micromirror node catalog             list the built-in project recipes
       micromirror node status [-watch]     projects, last syncs, live progress
       micromirror node sync [-force] P...  start a sync of projects now
       micromirror node smart [-o DIR]      write the drives' smartctl reports (run as root, by micromirror-smart.timer)

Serves the configured projects over HTTP, HTTPS and rsync and keeps them
synced from the upstream.
SIGHUP reloads the config, blocklist, certificates and access log;
SIGTERM stops accepting and lets running downloads finish.

Flags:
`

func (m *Main) runNode(ctx context.Context, args []string) int {
	hup, stdout, stderr := m.HUP, m.Stdout, m.Stderr
	if len(args) > 0 {
		switch args[0] {
		case "catalog":
			printCatalog(stdout)
			return 0
		case "status":
			return m.runNodeStatus(ctx, args[1:])
		case "sync":
			return m.runNodeSync(ctx, args[1:])
		case "smart":
			return m.runNodeSmart(ctx, args[1:])
		}
	}
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/micromirror/node.yaml", "node config file")
	check := fs.Bool("check", false, "validate the config and exit")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	fs.Usage = func() { fmt.Fprint(stderr, nodeUsage); fs.PrintDefaults() }
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "micromirror node: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror node: %v\n", err)
		return 2
	}
	cfg, err := nodeconfig.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror node: %v\n", err)
		return 1
	}
	if *check {
		if err := checkFiles(*cfgPath, cfg); err != nil {
			fmt.Fprintf(stderr, "micromirror node: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok (%s, %d projects)\n", *cfgPath, cfg.Name, len(cfg.Projects))
		return 0
	}
	n := node.New(cfg, log.With("node", cfg.Name))
	var drop func([]string) error
	if m.OwnsProcess {
		if drop, err = rootDrop(cfg); err != nil {
			log.Error("start", "err", err)
			return 1
		}
	}
	if drop != nil {
		n.SetPrivilegeDrop(drop)
		log.Info("started as root: binding the ports, then running as user " + cfg.User)
	}
	if err := n.Open(ctx); err != nil {
		log.Error("start", "err", err)
		return 1
	}
	for {
		select {
		case <-hup:
			next, err := nodeconfig.Load(*cfgPath)
			if err != nil {
				log.Error("reload: config rejected, keeping the running one", "err", err)
				continue
			}
			if err := n.Reload(next); err != nil {
				log.Error("reload", "err", err)
			}
		case <-ctx.Done():
			log.Info("stopping: letting running transfers finish", "grace", cfg.Limits.ShutdownGrace.D())
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownGrace.D())
			err := n.Close(sctx)
			cancel()
			if err != nil {
				log.Warn("stopped with transfers cut", "err", err)
			}
			return 0
		}
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad -log-level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad -log-format %q", format)
}

func printCatalog(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMODULE\tTRIGGERS\tSTAGES\tSIZE\tCHECKER\tDESCRIPTION")
	for _, r := range catalog.All() {
		mod := r.Module
		if r.Path != "" {
			mod += "/" + strings.TrimSuffix(r.Path, "/")
		}
		name := r.Name
		if a := catalog.Aliases(r.Name); len(a) > 0 {
			name += " (" + strings.Join(a, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d GiB\t%s\t%s\n", name, mod, strings.Join(r.Triggers, ","),
			r.Stages, r.SizeBytes>>30, r.Checker, r.Description)
	}
	tw.Flush()
}

// checkFiles checks what a valid config points at as the node's user
// will use it: the config's own user when this is root (the node drops
// to it), else whoever runs the check. Errors name the key and line.
func checkFiles(path string, cfg nodeconfig.Config) error {
	acct, err := nodeconfig.CurrentAccount()
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if acct, err = nodeconfig.AccountOf(cfg.User); err != nil {
			src, _ := os.ReadFile(path)
			return yamlconf.Locate(path, src, []*yamlconf.FieldError{{Field: "user",
				Msg: fmt.Sprintf("%s does not exist: the node started as root runs as it (create it; the package does)", cfg.User)}})
		}
		acct.RootStart = true
	}
	errs := cfg.CheckFiles(acct)
	if len(errs) == 0 {
		return nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yamlconf.Locate(path, src, errs)
}

// runNodeSmart writes a smartctl report per drive for the node's
// telemetry: smartctl needs root, the node does not run as root, so the
// packaged timer runs this and the node reads the files.
func (m *Main) runNodeSmart(ctx context.Context, args []string) int {
	stderr := m.Stderr
	fs := flag.NewFlagSet("node smart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", hosthealth.DefaultSmartDir, "the directory the node's telemetry.smart_dir reads")
	smartctl := fs.String("smartctl", "smartctl", "the smartctl to run")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if err := hosthealth.Collect(ctx, *smartctl, *out); err != nil {
		fmt.Fprintf(stderr, "micromirror node smart: %v\n", err)
		return 1
	}
	return 0
}
