package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/rsync"
	"micromirror/internal/status"
)

// Settings are the node-wide facts a sync needs beyond the plans.
type Settings struct {
	NodeName string
	Contact  string
	Sponsor  string
	StateDir string
	Sync     nodeconfig.Sync
}

// Engine runs the projects' syncs. Each project has one goroutine that
// owns its runs; the node-wide semaphore caps concurrent rsyncs.
type Engine struct {
	log    *slog.Logger
	set    Settings
	store  *status.Store
	runner *rsync.Runner
	sem    chan struct{}

	workers map[string]*worker
	order   []string
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

type worker struct {
	plan Plan
	log  *slog.Logger
	// trigger holds at most one pending request: a trigger that arrives
	// during a run causes exactly one follow-up run, never more.
	trigger  chan string
	progress atomic.Pointer[rsync.Progress]
	stage    atomic.Value // string: "", "checking", "stage 1/2"...
	next     atomic.Int64 // unix nanos of the next scheduled or retry run
	mu       sync.Mutex   // guards status writes of this project
}

// New builds an engine for the plans.
func New(set Settings, plans []Plan, store *status.Store, log *slog.Logger) *Engine {
	e := &Engine{
		log: log, set: set, store: store,
		runner:  &rsync.Runner{StallTimeout: set.Sync.StallTimeout.D()},
		sem:     make(chan struct{}, set.Sync.MaxConcurrent),
		workers: map[string]*worker{},
	}
	for _, p := range plans {
		w := &worker{plan: p, log: log.With("project", p.Name), trigger: make(chan string, 1)}
		w.stage.Store("")
		e.workers[p.Name] = w
		e.order = append(e.order, p.Name)
	}
	sort.Strings(e.order)
	return e
}

// Open recovers from a crash (a status stuck in "syncing", leftover
// .~tmp~ dirs) and starts every project's loop. Projects whose last
// success is older than their interval catch up at once.
func (e *Engine) Open(ctx context.Context) {
	ctx, e.cancel = context.WithCancel(ctx)
	for _, name := range e.order {
		w := e.workers[name]
		e.recover(w)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.loop(ctx, w)
		}()
	}
}

func (e *Engine) recover(w *worker) {
	st, err := e.store.Load(w.plan.Name)
	if err != nil {
		w.log.Warn("status unreadable, starting fresh", "err", err)
		st = status.Project{Name: w.plan.Name, State: status.Idle}
	}
	if st.State == status.Syncing {
		st.State = status.Interrupted
		st.LastResult = "interrupted"
		st.LastError = "the node stopped during the run"
		if err := e.store.Save(st); err != nil {
			w.log.Error("save status", "err", err)
		}
		w.log.Warn("previous run was interrupted")
	}
	removeDiscarded(w.plan)
	if n, err := removeTempDirs(w.plan.Dir); err != nil {
		w.log.Warn("remove leftover temp dirs", "err", err)
	} else if n > 0 {
		w.log.Info("removed leftover rsync temp dirs", "count", n)
	}
}

// Close stops the loops; running rsyncs are terminated and their trees
// stay as they were (delay-updates).
func (e *Engine) Close() {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
}

// ErrUnknownProject is returned for a trigger naming no hosted project.
var ErrUnknownProject = errors.New("no such project")

// Trigger asks for a run of a project now. It never blocks: a project
// already running gets exactly one follow-up run.
func (e *Engine) Trigger(project, reason string) error {
	w, ok := e.workers[project]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProject, project)
	}
	for {
		select {
		case w.trigger <- reason:
			return nil
		default: // one is already pending; it will see the latest upstream
		}
		if reason != "force" {
			return nil
		}
		// A forced run skips the guards: it must not turn into the
		// ordinary run already pending, so it takes that one's place.
		select {
		case <-w.trigger:
		default: // the worker took it meanwhile: send again
		}
	}
}

// ProjectsForModule returns the projects fed by an upstream module.
func (e *Engine) ProjectsForModule(module string) []string {
	var out []string
	for _, name := range e.order {
		if slices.Contains(e.workers[name].plan.Triggers, module) {
			out = append(out, name)
		}
	}
	return out
}

// TriggerModule triggers every project fed by an upstream module (MQTT
// topic rsync/<upstream-host>/<module>) and returns their names.
func (e *Engine) TriggerModule(module, reason string) []string {
	hit := e.ProjectsForModule(module)
	for _, name := range hit {
		e.Trigger(name, reason)
	}
	return hit
}

func (e *Engine) loop(ctx context.Context, w *worker) {
	backoff := time.Duration(0)
	next := w.plan.NextRun(time.Now())
	timerReason := "schedule"
	if st, _ := e.store.Load(w.plan.Name); st.LastSuccess.IsZero() || time.Since(st.LastSuccess) > w.plan.Interval {
		next, timerReason = time.Now(), "catch-up" // never synced, or missed a slot
	}
	for {
		w.next.Store(next.UnixNano())
		timer := time.NewTimer(time.Until(next))
		var reason string
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case reason = <-w.trigger:
			timer.Stop()
		case <-timer.C:
			reason = timerReason
		}
		res := e.run(ctx, w, reason)
		switch {
		case ctx.Err() != nil:
			return
		case res == rsync.Transient:
			backoff = nextBackoff(backoff, e.set.Sync.RetryMin.D(), e.set.Sync.RetryMax.D())
			next, timerReason = time.Now().Add(backoff), "retry"
			w.log.Info("will retry", "in", backoff.Round(time.Millisecond))
		default:
			backoff = 0
			next, timerReason = w.plan.NextRun(time.Now()), "schedule"
		}
	}
}

// nextBackoff doubles the delay between lo and hi, with ±25% jitter so a
// fleet that lost its upstream at once does not come back at once.
func nextBackoff(prev, lo, hi time.Duration) time.Duration {
	d := lo
	if prev > 0 {
		d = min(prev*2, hi)
	}
	j := time.Duration(float64(d) * (0.75 + rand.Float64()*0.5))
	return max(min(j, hi), lo/2)
}

// ProjectStatus is the live view of one project for the admin API.
type ProjectStatus struct {
	status.Project
	Stage    string          `json:"stage,omitempty"`
	Progress *rsync.Progress `json:"progress,omitempty"`
	NextRun  time.Time       `json:"next_run,omitzero"`
	// Queued is a trigger waiting for the run under way (at most one).
	Queued bool   `json:"queued,omitempty"`
	Source string `json:"source"`
	// Triggers are the upstream modules whose announcements start a run
	// (the plan's: the catalog's or the config's own).
	Triggers []string `json:"triggers,omitempty"`
	LogFile  string   `json:"log_file,omitempty"`
}

// Status returns every project's status, sorted by name.
func (e *Engine) Status() []ProjectStatus {
	var out []ProjectStatus
	for _, name := range e.order {
		w := e.workers[name]
		w.mu.Lock()
		st, err := e.store.Load(name)
		w.mu.Unlock()
		if err != nil {
			st = status.Project{Name: name, State: "unknown", LastError: err.Error()}
		}
		ps := ProjectStatus{Project: st, Source: w.plan.Source, Triggers: w.plan.Triggers, NextRun: time.Unix(0, w.next.Load()),
			LogFile: filepath.Join(e.set.StateDir, "logs", name, "latest"), Queued: len(w.trigger) > 0}
		if st.State == status.Syncing {
			ps.Stage, _ = w.stage.Load().(string)
			ps.Progress = w.progress.Load()
		}
		out = append(out, ps)
	}
	return out
}

// LastSuccess reports a project's last successful sync (for index pages).
func (e *Engine) LastSuccess(project string) time.Time {
	st, err := e.store.Load(project)
	if err != nil {
		return time.Time{}
	}
	return st.LastSuccess
}
