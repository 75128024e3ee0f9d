package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"micromirror/internal/mqtt"
	"micromirror/internal/store/postgres"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/watchtower"
)

const watchtowerUsage = `Usage: micromirror watchtower -config watchtower.yaml
       micromirror watchtower -hash-token < token-file
       micromirror watchtower backup -config watchtower.yaml -o FILE

Collects the nodes' telemetry (authenticated per node), stores it in SQLite
or PostgreSQL, probes the nodes, raises alerts, and serves the public
status page (/) and sponsor pages (/sponsors/NODE), the operator's views
(/fleet, /nodes/NODE), the JSON API and /metrics (docs/api.md).
Several watchtowers may share one PostgreSQL. -hash-token prints the
token_sha256 value for a token. backup writes a consistent copy of the
store while the watchtower runs (SQLite: a database file to put in place
of db; PostgreSQL: a pg_dump archive for pg_restore). SIGHUP rereads the
config's nodes and its nodes_file (after 'micromirror fleet render'); a
config with errors is reported and the running list kept. Other settings
take a restart.

Flags:
`

func (m *Main) runWatchtower(ctx context.Context, args []string) int {
	hup, stdin, stdout, stderr := m.HUP, m.Stdin, m.Stdout, m.Stderr
	if len(args) > 0 && args[0] == "backup" {
		return m.runWatchtowerBackup(ctx, args[1:])
	}
	fs := flag.NewFlagSet("watchtower", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/micromirror/watchtower.yaml", "watchtower config file")
	hash := fs.Bool("hash-token", false, "read a token on stdin and print its token_sha256")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() { fmt.Fprint(stderr, watchtowerUsage); fs.PrintDefaults() }
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *hash {
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if line == "" {
			fmt.Fprintln(stderr, "micromirror watchtower: no token on stdin")
			return 2
		}
		fmt.Fprintln(stdout, watchtower.HashToken(line))
		return 0
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		fmt.Fprintf(stderr, "micromirror watchtower: %v\n", err)
		return 2
	}
	cfg, err := watchtower.LoadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror watchtower: %v\n", err)
		return 1
	}
	var store watchtower.Store
	if cfg.IsPostgres() {
		store, err = postgres.Open(ctx, cfg.DB)
	} else {
		store, err = sqlite.Open(ctx, cfg.DB)
	}
	if err != nil {
		log.Error("open store", "err", err) // the error never holds the URL's password: pgx redacts it
		return 1
	}
	defer store.Close()
	srv := watchtower.NewServer(cfg, store, log.With("component", "watchtower"))
	if cfg.OperatorTokenSHA256 == "" {
		log.Warn("no operator_token_sha256 in the config: the operator's views, the API and /metrics are served to no one (micromirror fleet secrets makes a token)")
	}
	if err := srv.Open(cfg.Listen); err != nil {
		log.Error("start", "err", err)
		return 1
	}
	backend := "sqlite " + cfg.DB
	if cfg.IsPostgres() {
		backend = "postgresql" // the URL may carry a password
	}
	log.Info("watchtower listening", "addr", srv.Addr(), "nodes", len(cfg.Nodes), "store", backend)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(cfg.CertFile, cfg.KeyFile) }()
	// The fleet-wide jobs end before the store closes (this defer runs
	// before store.Close's): a round cut off by shutdown never meets a
	// closed database.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	var jobs sync.WaitGroup
	defer func() { stopJobs(); jobs.Wait() }()
	jobs.Go(func() { srv.Alerts.Run(jobsCtx) })
	if m := cfg.MQTT; m.Broker != "" {
		stop, err := srv.ListenAnnouncements(mqtt.ClientConfig{Broker: m.Broker, ClientID: "watchtower-" + fmt.Sprint(os.Getpid()),
			Username: m.Username, PasswordFile: m.PasswordFile, CAFile: m.CAFile}, m.Topics)
		if err != nil {
			log.Error("mqtt", "err", err)
			return 1
		}
		defer stop()
	}
	jobs.Go(func() { watchtower.Compactor(jobsCtx, store, cfg.Retention, log.With("component", "retention")) })
	prober := watchtower.NewProber(store, cfg.Nodes, cfg.ProbeEvery.D(), nil, log.With("component", "probe"))
	jobs.Go(func() { prober.Run(jobsCtx) })
	jobs.Go(func() {
		reloadOnHUP(jobsCtx, hup, log, "node list", func() (watchtower.Config, error) { return watchtower.LoadConfig(*cfgPath) },
			func(next watchtower.Config) {
				srv.SetNodes(next.Nodes)
				prober.SetNodes(next.Nodes)
				log.Info("reloaded node list", "nodes", len(next.Nodes))
			})
	})
	select {
	case err := <-errc:
		log.Error("serve", "err", err)
		return 1
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(sctx)
		return 0
	}
}
