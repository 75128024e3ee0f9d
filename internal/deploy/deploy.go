// Package deploy rolls a fleet's rendered configs (and optionally a new
// package) out to its hosts over SSH, one node at a time or a few, and
// stops at the first node that does not come back healthy, with that
// node's previous config restored. It replaces what configuration
// management did for the fleet: copying files to 40 nodes by hand, with
// nothing to check, roll back or stop a bad rollout.
package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"micromirror/internal/inventory"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/render"
)

// Options shape a rollout.
type Options struct {
	Parallel int      // nodes at once (default 1)
	Only     []string // these nodes alone (by name); empty: every live node
	DryRun   bool     // print what would change, change nothing
	// Debs are package files (one per architecture) to install on each
	// node first.
	Debs []string
	// SSHConfig is an ssh_config file for every connection (ssh -F).
	SSHConfig string
	// HealthTimeout bounds the wait for a node to answer healthy after
	// its reload or restart (default 30 s).
	HealthTimeout time.Duration
	// Settle is how long a node must then stay healthy (default 0: once).
	Settle time.Duration
	Out    io.Writer
}

// Result is what happened to one host.
type Result struct {
	Host    string
	Outcome string // deployed, up to date, would change, skipped, failed
	How     string // reload, restart
	Err     error
	Took    time.Duration
}

// ErrStopped marks a rollout stopped by a failure.
var ErrStopped = errors.New("rollout stopped")

type roller struct {
	f       *inventory.Fleet
	files   map[string]render.File
	o       Options
	debs    packages
	control string          // ssh master sockets
	mu      sync.Mutex      // guards out, used
	used    map[string]Host // by target, to close their masters
}

func (r *roller) host(target string, sudo bool) Host {
	h := Host{Target: target, SSHConfig: r.o.SSHConfig, Sudo: sudo, ControlDir: r.control}
	r.mu.Lock()
	r.used[target] = h
	r.mu.Unlock()
	return h
}

func (r *roller) say(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.o.Out, format+"\n", args...)
}

// Run rolls the fleet out: the watchtower's node list first (so new
// nodes may push), then the nodes, then the announcer's module list.
func Run(ctx context.Context, f *inventory.Fleet, s *inventory.Secrets, o Options) ([]Result, error) {
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 30 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	files, err := render.Rendered(f, s)
	if err != nil {
		return nil, err
	}
	debs, err := loadPackages(o.Debs)
	if err != nil {
		return nil, err
	}
	control, err := os.MkdirTemp("", "mm-ssh-") // short: a socket path has a small limit
	if err != nil {
		return nil, err
	}
	r := &roller{f: f, files: files, o: o, debs: debs, control: control, used: map[string]Host{}}
	defer func() {
		// End the master connections, then their sockets' directory.
		for _, h := range r.used {
			h.closeMaster()
		}
		os.RemoveAll(control)
	}()
	nodes, err := r.selected()
	if err != nil {
		return nil, err
	}
	var results []Result
	d := f.DeployFor(&inventory.Node{})
	if d.Watchtower != nil && len(o.Only) == 0 {
		res := r.file(ctx, "watchtower", d.Watchtower, render.WatchtowerFile)
		results = append(results, res)
		if res.Err != nil {
			return results, fmt.Errorf("%w: the watchtower's node list: %v", ErrStopped, res.Err)
		}
	}
	nres, failed := r.nodes(ctx, nodes)
	results = append(results, nres...)
	if failed != nil {
		return results, fmt.Errorf("%w at %s: %v", ErrStopped, failed.Host, failed.Err)
	}
	if d.Announce != nil && len(o.Only) == 0 {
		res := r.file(ctx, "announcer", d.Announce, render.AnnounceFile)
		results = append(results, res)
		if res.Err != nil {
			return results, fmt.Errorf("%w: the announcer's module list: %v", ErrStopped, res.Err)
		}
	}
	return results, nil
}

// selected are the live nodes the rollout covers, in the inventory's
// order.
func (r *roller) selected() ([]*inventory.Node, error) {
	live := r.f.Live()
	if len(r.o.Only) == 0 {
		return live, nil
	}
	var out []*inventory.Node
	for _, name := range r.o.Only {
		i := slices.IndexFunc(live, func(n *inventory.Node) bool { return n.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("-only %s: no such live node in the inventory", name)
		}
		out = append(out, live[i])
	}
	return out, nil
}

// nodes rolls out to the nodes, Parallel at once; after a failure no
// further node is started (those running finish). It returns the results
// in inventory order and the first failure.
func (r *roller) nodes(ctx context.Context, nodes []*inventory.Node) ([]Result, *Result) {
	results := make([]Result, len(nodes))
	var stop atomic.Bool
	sem := make(chan struct{}, r.o.Parallel)
	var wg sync.WaitGroup
	for i, n := range nodes {
		sem <- struct{}{}
		if stop.Load() {
			<-sem
			results[i] = Result{Host: n.Name, Outcome: "skipped"}
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = r.node(ctx, n)
			if results[i].Err != nil {
				stop.Store(true)
			}
		}()
	}
	wg.Wait()
	for i := range results {
		if results[i].Err != nil {
			return results, &results[i]
		}
	}
	return results, nil
}

// node rolls one node out: upload to a temporary directory beside its
// config, node -check there, replace atomically (keeping the previous
// files), reload (or restart for what a reload cannot apply), then check
// its health from here; on failure, put the previous files back.
func (r *roller) node(ctx context.Context, n *inventory.Node) Result {
	start := time.Now()
	res := Result{Host: n.Name}
	fail := func(err error) Result {
		res.Outcome, res.Err, res.Took = "failed", err, time.Since(start)
		r.say("%s: FAILED: %v", n.Name, err)
		return res
	}
	d := r.f.DeployFor(n)
	h := r.host(n.SSHTarget(), d.Sudo)
	local := r.nodeFiles(n)
	live := path.Join(d.ConfigDir, "node.yaml")
	next, err := nodeconfig.Parse(live, local["node.yaml"].Data)
	if err != nil {
		return fail(err)
	}
	current, err := h.Run(ctx, "cat "+q(live)+" 2>/dev/null || true", nil)
	if err != nil {
		return fail(err)
	}
	secretsNow, err := h.Run(ctx, "cd "+q(path.Join(d.ConfigDir, "secrets"))+" 2>/dev/null && sha256sum -- * 2>/dev/null || true", nil)
	if err != nil {
		return fail(err)
	}
	changedSecrets := secretChanges(local, secretsNow)
	changed := current != string(local["node.yaml"].Data) || len(changedSecrets) > 0
	deb := ""
	if len(r.debs) > 0 {
		arch, err := h.Run(ctx, "dpkg --print-architecture", nil)
		if err != nil {
			return fail(fmt.Errorf("the host's architecture: %v", err))
		}
		if deb, err = r.debs.forArch(strings.TrimSpace(arch)); err != nil {
			return fail(err)
		}
	}
	if r.o.DryRun {
		res.Outcome, res.Took = "up to date", time.Since(start)
		if changed || deb != "" {
			res.Outcome = "would change"
			r.say("%s: would change%s\n%s", n.Name, debNote(deb), diff(live, current, string(local["node.yaml"].Data), changedSecrets))
		} else {
			r.say("%s: up to date", n.Name)
		}
		return res
	}
	if !changed && deb == "" {
		res.Outcome, res.Took = "up to date", time.Since(start)
		r.say("%s: up to date", n.Name)
		return res
	}
	if deb != "" {
		if err := r.install(ctx, h, d, deb); err != nil {
			return fail(err)
		}
	}
	tmp, err := r.upload(ctx, h, d, local, next.User)
	if err != nil {
		return fail(err)
	}
	if out, err := h.Run(ctx, d.Micromirror+" node -check -config "+q(path.Join(tmp, "node.yaml")), nil); err != nil {
		h.Run(ctx, "rm -rf "+q(tmp), nil)
		return fail(fmt.Errorf("node -check on the node refused the new config (nothing changed there): %v %s", err, out))
	}
	if err := r.replace(ctx, h, d, tmp, next.User); err != nil {
		return fail(err)
	}
	res.How = "reload"
	cmd := d.Reload
	old, perr := nodeconfig.Parse(live, []byte(current))
	if keys := nodeconfig.RestartOnly(old, next); perr != nil || len(keys) > 0 || deb != "" {
		res.How, cmd = "restart", d.Restart
	}
	before, _ := adminStatus(ctx, h, d) // none on a first rollout
	err = r.apply(ctx, h, d, cmd)
	if err == nil {
		err = r.healthy(ctx, n, next, h, d, before)
	}
	if err != nil {
		if rerr := r.restore(ctx, h, d, res.How); rerr != nil {
			return fail(fmt.Errorf("%v; restoring the previous config failed too: %v", err, rerr))
		}
		return fail(fmt.Errorf("%v; the previous config is back", err))
	}
	res.Outcome, res.Took = "deployed", time.Since(start)
	r.say("%s: deployed (%s) in %v", n.Name, res.How, res.Took.Round(time.Millisecond))
	return res
}

// nodeFiles are the node's rendered files by path below its config dir.
func (r *roller) nodeFiles(n *inventory.Node) map[string]render.File {
	prefix := path.Join(render.NodesDir, n.Name) + "/"
	out := map[string]render.File{}
	for p, f := range r.files {
		if rel, ok := strings.CutPrefix(p, prefix); ok {
			out[rel] = f
		}
	}
	return out
}

// install copies the package to the host and installs it.
func (r *roller) install(ctx context.Context, h Host, d inventory.Deploy, deb string) error {
	// Readable by others: apt-get reads a local package as its _apt user.
	tmp, err := h.Run(ctx, "d=$(mktemp -d /tmp/micromirror-deploy.XXXXXX) && chmod 755 \"$d\" && echo \"$d\"", nil)
	if err != nil {
		return err
	}
	tmp = strings.TrimSpace(tmp)
	defer h.Run(ctx, "rm -rf "+q(tmp), nil)
	stage, err := os.MkdirTemp("", "micromirror-deb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	b, err := os.ReadFile(deb)
	if err != nil {
		return err
	}
	name := filepath.Base(deb)
	if err := os.WriteFile(filepath.Join(stage, name), b, 0o644); err != nil {
		return err
	}
	if err := h.Upload(ctx, stage, tmp); err != nil {
		return err
	}
	if out, err := h.Run(ctx, d.Command(d.Install)+" "+q(path.Join(tmp, name)), nil); err != nil {
		return fmt.Errorf("installing %s: %v %s", name, err, out)
	}
	return nil
}

// upload puts the files in a new directory beside the config (the same
// file system, so the replace is a rename) and returns it.
func (r *roller) upload(ctx context.Context, h Host, d inventory.Deploy, files map[string]render.File, user string) (string, error) {
	tmp, err := h.Run(ctx, "mkdir -p "+q(d.ConfigDir)+" && mktemp -d "+q(path.Join(d.ConfigDir, ".deploy.XXXXXX")), nil)
	if err != nil {
		return "", err
	}
	tmp = strings.TrimSpace(tmp)
	stage, err := os.MkdirTemp("", "micromirror-deploy-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	for rel, f := range files {
		p := filepath.Join(stage, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, f.Data, f.Perm); err != nil {
			return "", err
		}
	}
	if err := h.Upload(ctx, stage, tmp); err != nil {
		h.Run(ctx, "rm -rf "+q(tmp), nil)
		return "", err
	}
	// As they will be in place: the node's user reads them (the check
	// runs as it), others do not read the secrets.
	perms := `set -e
group=$(id -gn ` + q(user) + ` 2>/dev/null || echo root)
cd ` + q(tmp) + `
chgrp "$group" . && chmod 0750 .
chmod 0644 node.yaml
if [ -d secrets ]; then
	chgrp -R "$group" secrets && chmod 0750 secrets
	find secrets -type f -exec chmod 0640 {} +
fi`
	if _, err := h.Run(ctx, perms, nil); err != nil {
		h.Run(ctx, "rm -rf "+q(tmp), nil)
		return "", err
	}
	return tmp, nil
}

// replace keeps the current files in .previous and moves the new ones in,
// each by rename; the secrets belong to root and the node user's group.
func (r *roller) replace(ctx context.Context, h Host, d inventory.Deploy, tmp, user string) error {
	script := `set -e
cd ` + q(d.ConfigDir) + `
rm -rf .previous && mkdir .previous
if [ -f node.yaml ]; then cp -p node.yaml .previous/; fi
if [ -d secrets ]; then cp -rp secrets .previous/; fi
group=$(id -gn ` + q(user) + ` 2>/dev/null || echo root)
mkdir -p secrets
chmod 0750 secrets && chgrp "$group" secrets
if [ -d ` + q(tmp) + `/secrets ]; then
	for f in ` + q(tmp) + `/secrets/*; do
		[ -e "$f" ] || continue
		mv -f "$f" secrets/
	done
fi
mv -f ` + q(tmp) + `/node.yaml node.yaml
rm -rf ` + q(tmp)
	_, err := h.Run(ctx, script, nil)
	return err
}

// restore puts the previous files back and applies them the same way.
func (r *roller) restore(ctx context.Context, h Host, d inventory.Deploy, how string) error {
	script := `set -e
cd ` + q(d.ConfigDir) + `
[ -f .previous/node.yaml ] || { echo "no previous config kept" >&2; exit 1; }
cp -p .previous/node.yaml node.yaml.restore && mv -f node.yaml.restore node.yaml
if [ -d .previous/secrets ]; then rm -rf secrets.restore && cp -rp .previous/secrets secrets.restore && rm -rf secrets && mv secrets.restore secrets; fi`
	if _, err := h.Run(ctx, script, nil); err != nil {
		return err
	}
	cmd := d.Reload
	if how == "restart" {
		cmd = d.Restart
	}
	return r.apply(ctx, h, d, cmd)
}

func (r *roller) apply(ctx context.Context, h Host, d inventory.Deploy, cmd string) error {
	if _, err := h.Run(ctx, d.Command(cmd), nil); err != nil {
		return fmt.Errorf("applying the config: %w", err)
	}
	return nil
}

// file deploys one rendered list to its host: the watchtower's node list
// or the announcer's module list.
func (r *roller) file(ctx context.Context, what string, t *inventory.DeployFile, rel string) Result {
	start := time.Now()
	res := Result{Host: what}
	f, ok := r.files[rel]
	if !ok {
		res.Outcome = "up to date"
		return res
	}
	h := r.host(t.SSH, r.f.DeployFor(&inventory.Node{}).Sudo)
	fail := func(err error) Result {
		res.Outcome, res.Err, res.Took = "failed", err, time.Since(start)
		r.say("%s: FAILED: %v", what, err)
		return res
	}
	current, err := h.Run(ctx, "cat "+q(t.Path)+" 2>/dev/null || true", nil)
	if err != nil {
		return fail(err)
	}
	switch {
	case current == string(f.Data):
		res.Outcome = "up to date"
		r.say("%s: %s up to date", what, t.Path)
		return res
	case r.o.DryRun:
		res.Outcome = "would change"
		r.say("%s: would change\n%s", what, diff(t.Path, current, string(f.Data), nil))
		return res
	}
	script := `set -e
p=` + q(t.Path) + `
mkdir -p "$(dirname "$p")"
if [ -f "$p" ]; then cp -p "$p" "$p.previous"; fi
cat > "$p.new" && chmod 0644 "$p.new" && mv -f "$p.new" "$p"`
	if _, err := h.Run(ctx, script, bytes.NewReader(f.Data)); err != nil {
		return fail(err)
	}
	if _, err = h.Run(ctx, t.Reload, nil); err == nil && t.Health != "" {
		err = getOK(ctx, t.Health, r.o.HealthTimeout)
	}
	if err != nil {
		h.Run(ctx, `p=`+q(t.Path)+`; if [ -f "$p.previous" ]; then mv -f "$p.previous" "$p"; fi`, nil)
		h.Run(ctx, t.Reload, nil)
		return fail(fmt.Errorf("%v; the previous file is back", err))
	}
	res.Outcome, res.Took = "deployed", time.Since(start)
	r.say("%s: %s deployed in %v", what, t.Path, res.Took.Round(time.Millisecond))
	return res
}

// secretChanges compares the node's secrets (sha256sum output) with the
// rendered ones and names the files that differ.
func secretChanges(local map[string]render.File, remote string) []string {
	have := map[string]string{}
	for _, line := range strings.Split(remote, "\n") {
		if sum, name, ok := strings.Cut(line, "  "); ok {
			have[name] = sum
		}
	}
	var out []string
	for rel, f := range local {
		name, ok := strings.CutPrefix(rel, "secrets/")
		if !ok {
			continue
		}
		sum := sha256.Sum256(f.Data)
		if have[name] != hex.EncodeToString(sum[:]) {
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

// diff is a unified diff of a file's current and next text (diff -u),
// and the secrets that change, named but never shown.
func diff(name, current, next string, secrets []string) string {
	dir, err := os.MkdirTemp("", "micromirror-diff-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte(current), 0o600)
	os.WriteFile(b, []byte(next), 0o600)
	out, _ := exec.Command("diff", "-u", "--label", name+" (now)", "--label", name+" (rendered)", a, b).Output()
	var sb strings.Builder
	sb.Write(out)
	for _, s := range secrets {
		fmt.Fprintf(&sb, "secret %s changes (not shown)\n", s)
	}
	return strings.TrimRight(sb.String(), "\n")
}

func debNote(deb string) string {
	if deb == "" {
		return ""
	}
	return ", installing " + filepath.Base(deb)
}
