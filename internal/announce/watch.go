package announce

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"micromirror/internal/announcement"
	"micromirror/internal/journal"
)

// state is one module's fingerprint: what changed and when.
type state struct {
	sum     string    // fingerprint of the tree or marker
	latest  time.Time // newest modification seen
	changed time.Time // when we first saw the current sum differ
	pending bool      // changed and not announced yet
	changes changes   // paths since the last serial, for the journal
}

// fingerprint summarises a tree (or its marker) cheaply: for a marker its
// content and mtime; for a tree, the count, sizes and mtimes of all
// entries. It skips rsync's in-flight files, which change all the time
// during an upstream sync.
func fingerprint(m Module) (string, time.Time, error) {
	h := sha256.New()
	var latest time.Time
	if m.Marker != "" {
		p := filepath.Join(m.Path, m.Marker)
		b, err := os.ReadFile(p)
		if err != nil {
			return "", time.Time{}, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return "", time.Time{}, err
		}
		h.Write(b)
		fmt.Fprint(h, fi.ModTime().UnixNano())
		return fmt.Sprintf("%x", h.Sum(nil)), fi.ModTime(), nil
	}
	err := filepath.WalkDir(m.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if skipDir(d) {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return nil // vanished mid-walk: the next poll sees the result
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", p, fi.Size(), fi.ModTime().UnixNano())
		if fi.ModTime().After(latest) {
			latest = fi.ModTime()
		}
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil)), latest, err
}

// Announcer watches modules and publishes through pub.
type Announcer struct {
	cfg Config // its Modules are Run's: the modules followed now
	pub interface {
		Announce(announcement.Announcement) error
	}
	log *slog.Logger

	mu      sync.Mutex // guards state (the watchers' goroutines write it) and watched
	state   map[string]*state
	watched map[string]bool // modules followed by inotify rather than walks

	stop   map[string]context.CancelFunc // per module: ends its watcher (Run's)
	reload chan []Module                 // SetModules to Run

	journals   map[string]*journal.Journal // per module, Run's
	journalErr map[string]bool             // modules whose journal could not be written (warned once)
}

// NewAnnouncer prepares the watcher.
func NewAnnouncer(cfg Config, pub interface {
	Announce(announcement.Announcement) error
}, log *slog.Logger) *Announcer {
	return &Announcer{cfg: cfg, pub: pub, log: log, state: map[string]*state{}, watched: map[string]bool{},
		stop: map[string]context.CancelFunc{}, reload: make(chan []Module, 1),
		journals: map[string]*journal.Journal{}, journalErr: map[string]bool{}}
}

// Run announces every module's current state once (retained, so nodes
// that connect later can compare), then polls until ctx ends and
// announces each module after it has changed and been still for its
// quiet period.
func (a *Announcer) Run(ctx context.Context) error {
	for _, m := range a.cfg.Modules {
		a.follow(ctx, m)
	}
	t := time.NewTicker(a.cfg.Poll.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case mods := <-a.reload:
			a.replace(ctx, mods)
		case <-t.C:
			a.poll(time.Now())
		}
	}
}

// SetModules makes Run follow mods from now on (a config reread on
// SIGHUP): modules new or changed are announced at once, as at start;
// modules gone are no longer watched.
func (a *Announcer) SetModules(mods []Module) {
	for {
		select {
		case a.reload <- mods:
			return
		case <-a.reload: // an older list not taken yet: this one wins
		}
	}
}

// replace switches to mods, leaving the unchanged modules as they are.
func (a *Announcer) replace(ctx context.Context, mods []Module) {
	next := map[string]Module{}
	for _, m := range mods {
		next[m.Name] = m
	}
	kept := map[string]bool{}
	for _, m := range a.cfg.Modules {
		if n, ok := next[m.Name]; ok && n == m {
			kept[m.Name] = true
			continue
		}
		a.unfollow(m.Name)
	}
	for _, m := range mods {
		if !kept[m.Name] {
			a.follow(ctx, m)
		}
	}
	a.log.Info("modules reread", "modules", len(mods), "started", len(mods)-len(kept), "stopped", len(a.cfg.Modules)-len(kept))
	a.cfg.Modules = mods
}

// follow starts following m: a watcher for its tree (a tree without a
// marker is announced by it; with a journal, every tree is watched for
// its paths), then its state now, announced (retained). The watcher
// starts first, so no change falls between the two; the first serial is
// a full one, as what changed while nobody watched is unknown.
func (a *Announcer) follow(ctx context.Context, m Module) {
	a.mu.Lock()
	a.state[m.Name] = &state{changes: changes{paths: map[string]struct{}{}, lost: "the announcer started"}}
	a.mu.Unlock()
	if m.Marker == "" || a.cfg.JournalOn() {
		wctx, cancel := context.WithCancel(ctx)
		if err := a.watch(wctx, m); err != nil {
			cancel()
			a.log.Warn("no filesystem notifications, polling the tree instead", "module", m.Name, "err", err)
		} else {
			a.stop[m.Name] = cancel
			a.mu.Lock()
			a.watched[m.Name] = true
			a.mu.Unlock()
		}
	}
	sum, latest, err := fingerprint(m)
	if err != nil {
		a.log.Warn("watch", "module", m.Name, "err", err)
	}
	a.mu.Lock()
	a.state[m.Name].sum, a.state[m.Name].latest = sum, latest
	a.mu.Unlock()
	if err == nil {
		a.publish(m, latest)
	}
}

// unfollow stops following a module.
func (a *Announcer) unfollow(name string) {
	if cancel := a.stop[name]; cancel != nil {
		cancel()
		delete(a.stop, name)
	}
	a.mu.Lock()
	delete(a.state, name)
	delete(a.watched, name)
	a.mu.Unlock()
	delete(a.journals, name) // reread from the tree if followed again
}

func (a *Announcer) poll(now time.Time) {
	for _, m := range a.cfg.Modules {
		if m.Marker != "" || !a.isWatched(m.Name) {
			sum, latest, err := fingerprint(m)
			if err != nil {
				a.log.Warn("watch", "module", m.Name, "err", err)
				continue
			}
			a.mu.Lock()
			st := a.state[m.Name]
			if sum != st.sum {
				st.sum, st.latest, st.changed, st.pending = sum, latest, now, true
			}
			a.mu.Unlock()
		}
		a.mu.Lock()
		st := a.state[m.Name]
		a.mu.Unlock()
		quiet := a.cfg.Quiet.D()
		if m.Quiet.D() > 0 {
			quiet = m.Quiet.D()
		}
		a.mu.Lock()
		due := st.pending && now.Sub(st.changed) >= quiet
		a.mu.Unlock()
		if due && a.publish(m, now) {
			a.mu.Lock()
			if now.Sub(st.changed) >= quiet { // no new change while publishing
				st.pending = false
			}
			a.mu.Unlock()
		}
	}
}

func (a *Announcer) isWatched(module string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.watched[module]
}

// watch follows a module's tree with inotify: every directory is watched
// (new ones as they appear). Any event outside rsync's .~tmp~ and the
// journal's directory records its path for the journal and, for a tree
// without a marker, restarts the module's quiet period. Walking a large
// tree every poll would cost the upstream far more.
func (a *Announcer) watch(ctx context.Context, m Module) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	dirs := map[string]bool{} // watched directories, to drop those a rename moves
	add := func(root string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if skipDir(d) {
				return filepath.SkipDir
			}
			dirs[p] = true
			return w.Add(p)
		})
	}
	if err := add(m.Path); err != nil {
		w.Close()
		return err
	}
	journalOn := a.cfg.JournalOn()
	go func() {
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				rel, err := filepath.Rel(m.Path, ev.Name)
				if err != nil || inSkipped(filepath.ToSlash(rel)) {
					continue
				}
				newDir := false
				if ev.Has(fsnotify.Create) {
					if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
						newDir = true
						add(ev.Name)
					}
				}
				if ev.Has(fsnotify.Rename) && dirs[ev.Name] {
					// A directory moved away: its watches would report
					// under the old name; its new name (a Create) is
					// walked and watched afresh.
					for d := range dirs {
						if d == ev.Name || strings.HasPrefix(d, ev.Name+"/") {
							w.Remove(d)
							delete(dirs, d)
						}
					}
				}
				if ev.Has(fsnotify.Remove) {
					delete(dirs, ev.Name)
				}
				a.mu.Lock()
				if st := a.state[m.Name]; st != nil && ctx.Err() == nil { // nil: no longer followed
					if journalOn {
						st.changes.add(filepath.ToSlash(rel))
						if newDir {
							recordTree(&st.changes, m.Path, ev.Name)
						} else if ev.Has(fsnotify.Create) && hardLinked(ev.Name) {
							st.changes.lose("a hard link was made (" + rel + ")")
						}
					}
					if m.Marker == "" {
						st.changed, st.pending = time.Now(), true
					}
				}
				a.mu.Unlock()
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				a.log.Warn("watch", "module", m.Name, "err", err)
				a.mu.Lock()
				if st := a.state[m.Name]; st != nil {
					st.changes.lose("filesystem events were lost: " + err.Error())
				}
				a.mu.Unlock()
			}
		}
	}()
	return nil
}

// inSkipped: a path inside rsync's .~tmp~ or the journal's directory.
func inSkipped(rel string) bool {
	for _, seg := range strings.Split(rel, "/") {
		if seg == ".~tmp~" {
			return true
		}
	}
	return rel == journal.Dir || strings.HasPrefix(rel, journal.Dir+"/")
}

func (a *Announcer) publish(m Module, when time.Time) bool {
	err := a.pub.Announce(announcement.Announcement{Module: m.Name, Time: when.UTC(), Serial: a.nextSerial(m, when)})
	if err != nil {
		a.log.Error("announce", "module", m.Name, "err", err)
		return false
	}
	a.log.Info("announced", "module", m.Name, "topic", announcement.Topic(a.cfg.Upstream, m.Name))
	return true
}
