package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"micromirror/internal/announce"
	"micromirror/internal/announcement"
	"micromirror/internal/catalog"
	"micromirror/internal/mqtt"
	"micromirror/internal/node"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/store/sqlite"
	"micromirror/internal/watchtower"
	"micromirror/internal/yamlconf"
)

// Options shape a demo run.
type Options struct {
	Dir  string // work dir; a temp dir when empty
	Keep bool   // keep Dir at the end
	// Out receives the human-readable report; Log the components' logs.
	Out io.Writer
	Log *slog.Logger
	// Ready, if set, is called once the update has reached every node.
	Ready func(*Constellation)
}

// Constellation is the running demo, for the end-to-end test.
type Constellation struct {
	Nodes      []*node.Node
	Configs    []nodeconfig.Config
	Watchtower string // http://host:port
	// OperatorToken opens the watchtower's operator views and APIs.
	OperatorToken string
	Upstream      string // rsync://host:port
	RepoDir       string // the upstream's debian tree
	Publisher     *mqtt.Publisher
	// UpdateLatency is from the announcement to the new version being
	// served by every node that holds debian.
	UpdateLatency time.Duration
}

var sponsors = []struct{ slug, name, url string }{
	{"ziply", "Ziply Fiber", "https://ziplyfiber.com/"},
	{"sonic", "Sonic", "https://www.sonic.com/"},
	{"hurricane", "Hurricane Electric", "https://he.net/"},
}

// projectSets are the sponsors' nodes' projects; "releases" is the
// demo's own (not a catalog recipe), so the watchtower's node list names
// it.
var projectSets = [][]string{{"debian", "releases"}, {"debian"}, {"releases"}}

// Run starts everything, publishes an update, reports, and runs until
// ctx ends; then it stops everything and removes the work dir.
func Run(ctx context.Context, o Options) (err error) {
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "micromirror-demo-"); err != nil {
			return err
		}
		os.Chmod(o.Dir, 0o755) // rsync sessions (nobody, when run as root) read the trees
	}
	if !o.Keep {
		defer os.RemoveAll(o.Dir)
	}
	out := o.Out
	say := func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) }
	c := &Constellation{}

	// 1. The upstream: a Debian repository and a release tree, over rsync.
	repo, rel := filepath.Join(o.Dir, "upstream/debian"), filepath.Join(o.Dir, "upstream/releases")
	if err := BuildDebianRepo(repo, "1.0", "hello", "mirror-tool"); err != nil {
		return err
	}
	if err := BuildReleaseTree(rel, "1.0", 4<<20); err != nil {
		return err
	}
	c.RepoDir = repo
	up, err := startUpstream(filepath.Join(o.Dir, "upstream"), map[string]string{"debian": repo, "releases": rel})
	if err != nil {
		return err
	}
	defer up.stop()
	c.Upstream = "rsync://" + up.addr

	// 2. The embedded MQTT broker and the announcer's publisher.
	broker, err := mqtt.StartBroker("127.0.0.1:0", nil, o.Log.With("component", "broker"))
	if err != nil {
		return err
	}
	defer broker.Close()
	brokerURL := "tcp://" + broker.Addr()
	pub, err := mqtt.NewPublisher(mqtt.ClientConfig{Broker: brokerURL, ClientID: "demo-announcer"}, "upstream.demo")
	if err != nil {
		return err
	}
	defer pub.Close()
	c.Publisher = pub
	// The real announcer watches the upstream's trees and keeps their
	// change journals: after the first sync, nodes transfer only what
	// changed.
	ann := &announced{pub: pub, seen: make(chan sent, 16)}
	// The announcer ends before the publisher it uses closes (deferred
	// in reverse: its cancel, then the Wait, then pub.Close).
	var parts sync.WaitGroup
	defer parts.Wait()
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	parts.Go(func() {
		announce.NewAnnouncer(announce.Config{Upstream: "upstream.demo", Poll: yamlconf.Dur(100 * time.Millisecond), Quiet: yamlconf.Dur(500 * time.Millisecond),
			Modules: []announce.Module{{Name: "debian", Path: repo}, {Name: "releases", Path: rel}}}, ann, o.Log.With("component", "announce")).Run(actx)
	})
	for _, m := range []string{"debian", "releases"} { // the journals exist before the first syncs
		if _, _, err := ann.next(ctx, m); err != nil {
			return err
		}
	}

	// 3. The watchtower, on SQLite.
	store, err := sqlite.Open(ctx, filepath.Join(o.Dir, "watchtower.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	var wcfg watchtower.Config
	op := make([]byte, 16)
	rand.Read(op)
	c.OperatorToken = hex.EncodeToString(op)
	wcfg.OperatorTokenSHA256 = watchtower.HashToken(c.OperatorToken)
	tokens := make([]string, len(sponsors))
	for i, sp := range sponsors {
		b := make([]byte, 16)
		rand.Read(b)
		tokens[i] = hex.EncodeToString(b)
		var own []string
		for _, p := range projectSets[i] {
			if _, ok := catalog.Lookup(p); !ok {
				own = append(own, p)
			}
		}
		wcfg.Nodes = append(wcfg.Nodes, watchtower.NodeConfig{Name: sp.slug + ".mm.example.net", Sponsor: sp.name, SponsorURL: sp.url,
			Country: "US", TokenSHA256: watchtower.HashToken(tokens[i]), Projects: own})
	}
	wt := watchtower.NewServer(wcfg, store, o.Log.With("component", "watchtower"))
	if err := wt.Open("127.0.0.1:0"); err != nil {
		return err
	}
	go wt.Serve("", "")
	defer wt.Close(context.Background())
	c.Watchtower = "http://" + wt.Addr()
	stopAnn, err := wt.ListenAnnouncements(mqtt.ClientConfig{Broker: brokerURL, ClientID: "demo-watchtower"}, nil)
	if err != nil {
		return err
	}
	defer stopAnn()
	var jobs sync.WaitGroup // the watchtower's: they end before the store closes
	defer jobs.Wait()
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	jobs.Go(func() { wt.Alerts.Run(wctx) })

	// 4. Three nodes with different sponsors and project sets.
	for i, sp := range sponsors {
		cfg, err := nodeConfig(o.Dir, sp.slug, sp.name, sp.url, projectSets[i], up, brokerURL, c.Watchtower, tokens[i])
		if err != nil {
			return err
		}
		n := node.New(cfg, o.Log.With("node", cfg.Name))
		if err := n.Open(ctx); err != nil {
			return fmt.Errorf("node %s: %w", cfg.Name, err)
		}
		defer n.Close(context.Background())
		c.Nodes, c.Configs = append(c.Nodes, n), append(c.Configs, cfg)
	}
	var probeNodes []watchtower.NodeConfig
	for i, n := range c.Nodes {
		var urls []string // each loopback: the probes are per address family
		for _, a := range n.HTTPAddrs() {
			urls = append(urls, "http://"+a.String()+"/")
		}
		probeNodes = append(probeNodes, watchtower.NodeConfig{Name: c.Configs[i].Name, Probes: urls})
	}
	prober := watchtower.NewProber(store, probeNodes, 30*time.Second, nil, o.Log.With("component", "probe"))
	jobs.Go(func() { prober.Run(wctx) })

	say("micromirror demo: the whole constellation on loopback (work dir %s)", o.Dir)
	say("  upstream        %s (modules debian, releases)", c.Upstream)
	say("  MQTT broker     %s (embedded)", brokerURL)
	say("  watchtower      %s/  (public status)", c.Watchtower)
	say("                  %s/fleet  (the operator's view: any user, password %s; API at /api/v1/nodes with it as a bearer token)", c.Watchtower, c.OperatorToken)
	for i, n := range c.Nodes {
		say("  node %-26s http://%s/  https://%s/  rsync://%s/  hosted by %s (sponsor page %s/sponsors/%s)", c.Configs[i].Name,
			n.HTTPAddrs()[0], n.HTTPSAddrs()[0], n.RsyncAddrs()[0], c.Configs[i].Sponsor.Name, c.Watchtower, c.Configs[i].Name)
	}
	say("  apt sources line: deb [trusted=yes] http://%s/debian stable main", c.Nodes[0].HTTPAddrs()[0])

	// 5. First sync everywhere, then an update announced over MQTT.
	if err := waitAll(ctx, c, func(name string, runs uint64) bool { return runs >= 1 }); err != nil {
		return err
	}
	say("initial sync done on every node; publishing hello 2.0 upstream, which the announcer announces")
	time.Sleep(1100 * time.Millisecond) // HTTP dates have one-second granularity
	ann.drain()
	if err := BuildDebianRepo(repo, "2.0", "hello"); err != nil {
		return err
	}
	serial, at, err := ann.next(ctx, "debian")
	if err != nil {
		return err
	}
	if err := waitDebianServes(ctx, c, "2.0"); err != nil {
		return err
	}
	c.UpdateLatency = time.Since(at)
	say("hello 2.0 (journal serial %s) is served by every node holding debian %.1f s after the announcement", serial, c.UpdateLatency.Seconds())
	if o.Ready != nil {
		o.Ready(c)
	}
	say("live status (Ctrl-C stops everything%s):", map[bool]string{true: ", -keep keeps " + o.Dir, false: " and removes the work dir"}[o.Keep])
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		for i, n := range c.Nodes {
			line := fmt.Sprintf("  %-26s", c.Configs[i].Name)
			for _, p := range n.ProjectStatus() {
				kind := ""
				if p.LastRun != nil && p.LastRun.Kind != "" {
					kind = " (" + p.LastRun.Kind + " run)"
				}
				line += fmt.Sprintf("  %s: %s, synced %s ago%s", p.Name, p.State, time.Since(p.LastSuccess).Round(time.Second), kind)
			}
			var served uint64
			for _, s := range n.Traffic().Snapshot() {
				for _, b := range s.Bytes {
					served += b
				}
			}
			say("%s  served %d bytes", line, served)
		}
		select {
		case <-ctx.Done():
			say("stopping")
			return nil
		case <-t.C:
		}
	}
}

// announced passes the announcer's announcements on to the broker and
// tells the demo when each went out.
type announced struct {
	pub  *mqtt.Publisher
	seen chan sent
}

type sent struct {
	announcement.Announcement
	at time.Time
}

func (a *announced) Announce(m announcement.Announcement) error {
	if err := a.pub.Announce(m); err != nil {
		return err
	}
	select {
	case a.seen <- sent{m, time.Now()}:
	default: // nobody waits for it
	}
	return nil
}

// drain forgets the announcements so far.
func (a *announced) drain() {
	for {
		select {
		case <-a.seen:
		default:
			return
		}
	}
}

// next waits for the module's next announcement: its serial and time.
func (a *announced) next(ctx context.Context, module string) (string, time.Time, error) {
	for {
		select {
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		case s := <-a.seen:
			if s.Module == module {
				return s.Serial, s.at, nil
			}
		}
	}
}

func nodeConfig(dir, slug, sponsor, url string, projects []string, up *upstream, broker, wt, token string) (nodeconfig.Config, error) {
	cfg := nodeconfig.Default()
	cfg.Name = slug + ".mm.example.net"
	cfg.Sponsor = nodeconfig.Sponsor{Name: sponsor, URL: url}
	cfg.Contact = "noc@mm.example.net"
	cfg.Fleet = nodeconfig.Fleet{Name: "micromirror demo fleet", URL: "https://mm.example.net/"}
	base := filepath.Join(dir, slug)
	cfg.DataDir, cfg.StateDir, cfg.AccessLog = filepath.Join(base, "mirror"), filepath.Join(base, "state"), filepath.Join(base, "access.log")
	cfg.Listen = nodeconfig.Listen{HTTP: []string{"127.0.0.1:0"}, HTTPS: []string{"127.0.0.1:0"}, Rsync: []string{"127.0.0.1:0"}}
	cfg.TLS = nodeconfig.TLS{SelfSigned: true}
	// Run as root, the demo's in-process nodes serve rsync sessions as
	// nobody (the demo does not drop its own privileges).
	cfg.User = "nobody"
	cfg.Limits.RateLimit.PerSecond = 0
	cfg.MQTT = nodeconfig.MQTT{Broker: broker, Topics: []string{"rsync/upstream.demo/#"}, ClientID: cfg.Name}
	tokenFile := filepath.Join(base, "telemetry.token")
	os.MkdirAll(base, 0o755)
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return cfg, err
	}
	cfg.Telemetry = nodeconfig.Telemetry{URL: wt + "/api/v1/ingest", TokenFile: tokenFile, Interval: yamlconf.Dur(5 * time.Second), SpoolMax: 1000}
	for _, p := range projects {
		cfg.Projects = append(cfg.Projects, nodeconfig.Project{Name: p, Source: up.url(p), Triggers: []string{p}})
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return cfg, fmt.Errorf("demo config for %s: %v", cfg.Name, errs[0])
	}
	return cfg, nil
}

func waitAll(ctx context.Context, c *Constellation, done func(name string, runs uint64) bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		all := true
		for _, n := range c.Nodes {
			for _, p := range n.ProjectStatus() {
				if !done(p.Name, p.Runs) {
					all = false
				}
			}
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes did not finish their first sync in 2 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitDebianServes waits until the index every node holding debian serves
// names the version (indices move into place last, after the packages).
func waitDebianServes(ctx context.Context, c *Constellation, version string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		all := true
		for _, cfg := range c.Configs {
			for _, p := range cfg.Projects {
				if p.Name != "debian" {
					continue
				}
				b, err := os.ReadFile(filepath.Join(cfg.DataDir, "debian/dists/stable/main/binary-amd64/Packages"))
				if err != nil || !strings.Contains(string(b), "Version: "+version) {
					all = false
				}
			}
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the update did not reach every node in 2 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
