package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"micromirror/internal/mqtt"
	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/syncer"
)

// adminClient talks to a running node over its admin unix socket.
type adminClient struct {
	http *http.Client
}

func newAdminClient(socket string) *adminClient {
	return &adminClient{http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// do asks the node; ctx ends it (Ctrl-C), as the client's timeout does.
func (c *adminClient) do(ctx context.Context, method, path string, out any) error {
	// localhost: the admin interface answers loopback names only.
	req, _ := http.NewRequestWithContext(ctx, method, "http://localhost"+path, nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("node not reachable (is it running?): %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return errors.New(e.Error)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// ctlFlags parses the flags shared by status and sync and returns the
// admin socket to use.
func ctlFlags(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*flag.FlagSet, string, int) {
	fs := flag.NewFlagSet("node "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/micromirror/node.yaml", "node config file (to find the admin socket)")
	socket := fs.String("socket", "", "admin unix socket (default: state_dir/admin.sock of the config)")
	if extra != nil {
		extra(fs)
	}
	if code, done := parseFlags(fs, args); done {
		return nil, "", code
	}
	if *socket != "" {
		return fs, *socket, -1
	}
	cfg, err := nodeconfig.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror node %s: %v\n", name, err)
		return nil, "", 1
	}
	return fs, node.AdminSocket(cfg), -1
}

func (m *Main) runNodeSync(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var force bool
	fs, socket, code := ctlFlags("sync", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "run even if a guard (deletion share, empty upstream, disk reserve) or an unchanged marker would stop it")
		fs.Usage = func() {
			fmt.Fprintln(stderr, "Usage: micromirror node sync [-config FILE] [-force] PROJECT...\n\nStarts a sync of each project now.")
			fs.PrintDefaults()
		}
	})
	if code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "micromirror node sync: name at least one project")
		return 2
	}
	c := newAdminClient(socket)
	for _, p := range fs.Args() {
		q := ""
		if force {
			q = "?force=1"
		}
		if err := c.do(ctx, http.MethodPost, "/api/v1/projects/"+p+"/sync"+q, nil); err != nil {
			fmt.Fprintf(stderr, "micromirror node sync %s: %v\n", p, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: sync requested\n", p)
	}
	return 0
}

func (m *Main) runNodeStatus(ctx context.Context, args []string) int {
	stdout, stderr := m.Stdout, m.Stderr
	var watch, asJSON bool
	_, socket, code := ctlFlags("status", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&watch, "watch", false, "redraw every second with live progress")
		fs.BoolVar(&asJSON, "json", false, "print the raw JSON")
	})
	if code >= 0 {
		return code
	}
	c := newAdminClient(socket)
	for {
		var st []syncer.ProjectStatus
		if err := c.do(ctx, http.MethodGet, "/api/v1/projects", &st); err != nil {
			fmt.Fprintf(stderr, "micromirror node status: %v\n", err)
			return 1
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(st)
			return 0
		}
		if watch {
			fmt.Fprint(stdout, "\033[H\033[2J")
		}
		printStatus(stdout, st, time.Now())
		var m mqtt.Stats
		if c.do(ctx, http.MethodGet, "/api/v1/mqtt", &m) == nil {
			state := "disconnected"
			if m.Connected {
				state = "connected"
			}
			fmt.Fprintf(stdout, "\nmqtt: %s, %d messages, %d triggers, %d duplicates, %d ignored\n", state, m.Received, m.Triggered,
				m.Duplicate, m.UnknownTopic+m.NotHosted+m.Malformed+m.Oversized)
		}
		if !watch {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(time.Second):
		}
	}
}

func printStatus(w io.Writer, st []syncer.ProjectStatus, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tSTATE\tLAST SUCCESS\tLAST RESULT\tNEXT RUN\tRUNS/CHECKS/FAILS")
	for _, p := range st {
		next := "-"
		switch {
		case p.Queued:
			next = "queued" // a trigger waits for the run under way
		case !p.NextRun.IsZero() && p.State != "syncing":
			next = "in " + roughDuration(p.NextRun.Sub(now))
		}
		last := "never"
		if !p.LastSuccess.IsZero() {
			last = roughDuration(now.Sub(p.LastSuccess)) + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d/%d\n", p.Name, p.State, last, p.LastResult, next, p.Runs, p.Checks, p.Failures)
	}
	tw.Flush()
	for _, p := range st {
		if p.State == "syncing" {
			fmt.Fprintf(w, "\n%s %s\n", p.Name, p.Stage)
			if p.Progress != nil {
				fmt.Fprintf(w, "  %s\n", progressBar(p.Progress.Percent, p.Progress.Bytes, p.Progress.Rate, p.Progress.ETA))
			}
		}
		if p.LastError != "" && p.State != "idle" && p.State != "not-synced" {
			fmt.Fprintf(w, "\n%s: %s\n", p.Name, p.LastError)
		}
	}
}

// progressBar renders "[#########...........]  45%  1.2 GiB  24.0 MB/s  ETA 3m12s".
func progressBar(pct int, bytes int64, rate float64, eta time.Duration) string {
	const width = 30
	n := max(0, min(width, pct*width/100))
	return fmt.Sprintf("[%s%s] %3d%%  %s  %s/s  ETA %s", strings.Repeat("#", n), strings.Repeat(".", width-n), pct,
		humanBytes(float64(bytes)), humanBytes(rate), roughDuration(eta))
}

func humanBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

func roughDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
