package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"micromirror/internal/announce"
	"micromirror/internal/announcement"
	"micromirror/internal/mqtt"
)

const announceUsage = `Usage: micromirror announce -broker URL [-upstream HOST] MODULE...
       micromirror announce -config announce.yaml

One-shot: publish rsync/HOST/MODULE for each module (QoS 1, retained), for
an upstream's own post-sync hooks; the exit code says whether the broker
accepted every message.

Daemon: watch the configured trees and publish when a module changed and
has been still for its quiet period; with "broker: embedded" also run the
MQTT broker the nodes connect to. SIGHUP rereads the modules (modules and
modules_file, as 'micromirror fleet render' writes it): new ones are
announced and followed, gone ones dropped; a config with errors is
reported and the running list kept. Other settings take a restart.

Flags:
`

func (m *Main) runAnnounce(ctx context.Context, args []string) int {
	hup, stdout, stderr := m.HUP, m.Stdout, m.Stderr
	fs := flag.NewFlagSet("announce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "daemon config file")
	broker := fs.String("broker", "", "broker URL (tcp://host:1883, ssl://host:8883)")
	hostname, _ := os.Hostname()
	upstream := fs.String("upstream", hostname, "upstream host in the topic rsync/HOST/MODULE")
	user := fs.String("username", "", "broker username")
	passFile := fs.String("password-file", "", "file holding the broker password")
	caFile := fs.String("ca-file", "", "CA bundle for an ssl:// broker")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() { fmt.Fprint(stderr, announceUsage); fs.PrintDefaults() }
	if code, done := parseFlags(fs, args); done {
		return code
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		fmt.Fprintf(stderr, "micromirror announce: %v\n", err)
		return 2
	}
	if *cfgPath != "" {
		return runAnnounceDaemon(ctx, *cfgPath, hup, stderr, log)
	}
	if *broker == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	pub, err := mqtt.NewPublisher(mqtt.ClientConfig{Broker: *broker, ClientID: "announce-" + *upstream + "-" + fmt.Sprint(os.Getpid()),
		Username: *user, PasswordFile: *passFile, CAFile: *caFile}, *upstream)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror announce: %v\n", err)
		return 1
	}
	defer pub.Close()
	for _, m := range fs.Args() {
		if strings.ContainsAny(m, "/+#") {
			fmt.Fprintf(stderr, "micromirror announce: %q is not a module name\n", m)
			return 2
		}
		if err := pub.Announce(announcement.Announcement{Module: m}); err != nil {
			fmt.Fprintf(stderr, "micromirror announce: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "announced %s\n", announcement.Topic(*upstream, m))
	}
	return 0
}

func runAnnounceDaemon(ctx context.Context, path string, hup <-chan os.Signal, stderr io.Writer, log *slog.Logger) int {
	cfg, err := announce.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror announce: %v\n", err)
		return 1
	}
	client := mqtt.ClientConfig{Broker: cfg.Broker, ClientID: "announce-" + cfg.Upstream, Username: cfg.Username,
		PasswordFile: cfg.PasswordFile, CAFile: cfg.CAFile}
	if cfg.Broker == "embedded" {
		users := map[string]string{}
		for _, u := range cfg.Users {
			b, err := os.ReadFile(u.PasswordFile)
			if err != nil {
				fmt.Fprintf(stderr, "micromirror announce: user %s: %v\n", u.Username, err)
				return 1
			}
			users[u.Username] = strings.TrimRight(string(b), "\r\n")
		}
		b, err := mqtt.StartBroker(cfg.Listen, users, log.With("component", "broker"))
		if err != nil {
			fmt.Fprintf(stderr, "micromirror announce: %v\n", err)
			return 1
		}
		defer b.Close()
		log.Info("embedded broker listening", "addr", b.Addr(), "users", len(users))
		client.Broker = "tcp://" + b.Addr()
		if len(cfg.Users) > 0 && client.Username == "" {
			client.Username, client.PasswordFile = cfg.Users[0].Username, cfg.Users[0].PasswordFile
		}
	}
	pub, err := mqtt.NewPublisher(client, cfg.Upstream)
	if err != nil {
		fmt.Fprintf(stderr, "micromirror announce: %v\n", err)
		return 1
	}
	defer pub.Close()
	a := announce.NewAnnouncer(cfg, pub, log.With("component", "announce"))
	reloadCtx, stopReload := context.WithCancel(ctx)
	var reloads sync.WaitGroup
	defer func() { stopReload(); reloads.Wait() }() // before the publisher closes
	reloads.Go(func() {
		reloadOnHUP(reloadCtx, hup, log, "modules", func() (announce.Config, error) { return announce.Load(path) },
			func(next announce.Config) { a.SetModules(next.Modules) })
	})
	if err := a.Run(ctx); err != nil {
		log.Error("announce", "err", err)
		return 1
	}
	return 0
}
