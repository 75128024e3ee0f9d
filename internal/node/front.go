package node

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"

	"micromirror/internal/catalog"
	"micromirror/internal/clientguard"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/serve"
	"micromirror/internal/yamlconf"
)

// servingFront is what a config produces for serving; swapped whole on reload.
type servingFront struct {
	content *serve.Handler
	guard   *clientguard.Guard
	handler http.Handler
}

// build turns a config into the serving front. On a reload, prev (built
// from old) gives what the change leaves alone: the content handler with
// its caches when the pages, projects and cache settings are the same,
// the rate limiter's buckets when the limit is, the checkers' DNS
// verdicts when their domains are; the guard's counters always carry on.
// So a SIGHUP (logrotate sends one every night) costs no warm cache and
// resets no counter.
func (n *Node) build(cfg nodeconfig.Config, prev *servingFront, old nodeconfig.Config) (*servingFront, error) {
	content, err := n.buildContent(cfg, prev, old)
	if err != nil {
		return nil, err
	}
	lim := cfg.Limits
	var limiter *clientguard.RateLimiter
	var verifier *clientguard.Verifier
	var counters *clientguard.Counters
	if prev != nil {
		counters = prev.guard.Counters
		if reflect.DeepEqual(lim.RateLimit, old.Limits.RateLimit) {
			limiter = prev.guard.Limiter
		}
		if slices.Equal(lim.CheckerDomains, old.Limits.CheckerDomains) {
			verifier = prev.guard.Verifier
		}
	}
	if limiter == nil {
		rl := lim.RateLimit
		limiter = clientguard.NewRateLimiter(rl.PerSecond, rl.Burst, prefixes(rl.Networks), rl.All)
	}
	if verifier == nil && len(lim.CheckerDomains) > 0 {
		verifier = clientguard.NewVerifier(lim.CheckerDomains, nil)
	}
	g := clientguard.New(clientguard.Config{
		Blocklist:       n.blocklist,
		Limiter:         limiter,
		Checkers:        slices.Clone(lim.CheckerUserAgents),
		CheckerNetworks: prefixes(lim.CheckerNetworks),
		Verifier:        verifier,
		Counters:        counters,
		Log:             n.log.With("component", "guard"),
	})
	return &servingFront{content: content, guard: g, handler: g.Middleware(content, content.ErrorPage)}, nil
}

// buildContent returns prev's content handler if nothing it serves
// changed, else a new one.
func (n *Node) buildContent(cfg nodeconfig.Config, prev *servingFront, old nodeconfig.Config) (*serve.Handler, error) {
	site, projects, opts := contentOf(cfg)
	if prev != nil {
		oldSite, oldProjects, oldOpts := contentOf(old)
		if site == oldSite && slices.Equal(projects, oldProjects) && opts == oldOpts {
			return prev.content, nil
		}
	}
	return serve.New(site, projects, n.lastSync, opts, n.log.With("component", "serve"))
}

// contentOf is what of a config the content handler serves.
func contentOf(cfg nodeconfig.Config) (serve.Site, []serve.Project, serve.Options) {
	var projects []serve.Project
	for _, p := range cfg.Projects {
		desc := ""
		if r, ok := catalog.Lookup(p.Name); ok {
			desc = r.Description
		}
		projects = append(projects, serve.Project{Name: p.Name, Path: p.Top(), Description: desc,
			Dir: filepath.Join(cfg.DataDir, p.Top()), Link: p.URLPath(),
			Rsync: p.RsyncPath()})
	}
	site := serve.Site{Name: cfg.Name, SponsorName: cfg.Sponsor.Name, SponsorURL: cfg.Sponsor.URL,
		Contact: cfg.Contact, FleetName: cfg.Fleet.Name, FleetURL: cfg.Fleet.URL, DonateURL: cfg.Fleet.Donate}
	opts := serve.Options{CacheBytes: cfg.Cache.Memory.Int(), CacheMaxFile: cfg.Cache.MaxFile.Int()}
	return site, projects, opts
}

// prefixes parses prefixes validated with the config.
func prefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		p, _ := yamlconf.ParsePrefix(s)
		out = append(out, p)
	}
	return out
}
