package syncer

import (
	"math/rand/v2"
	"sync"
	"time"

	"micromirror/internal/announcement"
)

// Pushes decides what an upstream's announcement does to the runs, in
// one place (the subscription only parses and counts; the engine only
// queues):
//   - a module no project is fed by starts nothing;
//   - a retained message (the broker replays the last change at every
//     subscribe) starts a run only if it is newer than the last success;
//   - the same serial for a module again within dupWindow is a duplicate
//     (a flood, a retry, a replay);
//   - a burst of pushes for one project starts one run at once, to keep
//     the fleet in lockstep, and folds the rest into one trailing run;
//   - jitter, when set, delays each start by a random time within it.
//
// Behind it the engine keeps at most one run pending per project
// (Engine.Trigger), so a push during a run gives one run after it.
type Pushes struct {
	runs  Runs
	clock clock

	mu     sync.Mutex
	jitter time.Duration
	seen   map[string]sighting // by module; only modules hosted are kept
	bursts map[string]*burst   // by project
	closed bool
	fired  sync.WaitGroup // delayed triggers running now
}

// Runs is what pushes act on: the node's current engine.
type Runs interface {
	ProjectsForModule(module string) []string
	LastSuccess(project string) time.Time
	Trigger(project, reason string) error
}

// NewPushes returns the push policy over runs; jitter 0 is lockstep.
func NewPushes(runs Runs, jitter time.Duration) *Pushes {
	return newPushes(runs, jitter, realClock{})
}

func newPushes(runs Runs, jitter time.Duration, c clock) *Pushes {
	return &Pushes{runs: runs, clock: c, jitter: jitter, seen: map[string]sighting{}, bursts: map[string]*burst{}}
}

// SetJitter changes the jitter for pushes from now on (a reload).
func (p *Pushes) SetJitter(d time.Duration) {
	p.mu.Lock()
	p.jitter = d
	p.mu.Unlock()
}

// Announce acts on an announcement of module and says what came of it.
func (p *Pushes) Announce(module string, a announcement.Announcement, retained bool) announcement.Outcome {
	projects := p.runs.ProjectsForModule(module)
	if len(projects) == 0 {
		return announcement.Outcome{}
	}
	out := announcement.Outcome{Hosted: true}
	if !retained && p.duplicate(module, a.Serial) {
		out.Duplicate = true
		return out
	}
	reason := "mqtt"
	if retained {
		reason = "mqtt-catch-up"
	}
	for _, project := range projects {
		if retained && !a.Time.IsZero() && !p.runs.LastSuccess(project).Before(a.Time) {
			out.Current++
			continue
		}
		out.Triggered++
		p.trigger(project, reason)
	}
	return out
}

// Close stops the delayed triggers; none starts after it returns.
func (p *Pushes) Close() {
	p.mu.Lock()
	p.closed = true
	for _, b := range p.bursts {
		b.timer.Stop()
	}
	clear(p.bursts)
	p.mu.Unlock()
	p.fired.Wait()
}

// sighting is the last announcement seen for a module.
type sighting struct {
	serial string
	at     time.Time
}

// dupWindow: the same serial for a module within this time is the same
// change announced again.
const dupWindow = 10 * time.Minute

// duplicate records an announcement's serial and reports whether it
// repeats the last one for the module. Only a serial identifies a
// change: a free-text payload (a stock `mosquitto_pub -m debian`) says
// the same for every change, so it is never a duplicate.
func (p *Pushes) duplicate(module, serial string) bool {
	if serial == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	last, ok := p.seen[module]
	if ok && last.serial == serial && now.Sub(last.at) < dupWindow {
		return true
	}
	p.seen[module] = sighting{serial: serial, at: now}
	return false
}

// burst coalesces a flood of pushes for one project: the first starts a
// run at once; later ones within burstQuiet of each other fold into one
// trailing trigger after the flood, so every push is still followed by a
// run that starts after it. An endless stream is not an endless flood: a
// trailing trigger waits at most burstMaxDefer after the first push it
// stands for.
type burst struct {
	timer   timer
	pending bool
	since   time.Time // of the first push the pending trigger stands for
	reason  string
}

const (
	burstQuiet    = time.Second
	burstMaxDefer = 10 * time.Second
)

func (p *Pushes) trigger(project, reason string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if b := p.bursts[project]; b != nil {
		now := p.clock.Now()
		if !b.pending {
			b.pending, b.since = true, now
		}
		b.reason = reason
		b.timer.Reset(max(0, min(burstQuiet, b.since.Add(burstMaxDefer).Sub(now))))
		p.mu.Unlock()
		return
	}
	b := &burst{}
	b.timer = p.clock.AfterFunc(burstQuiet, func() { p.endBurst(project, b) })
	p.bursts[project] = b
	jitter := p.jitter
	p.mu.Unlock()
	p.start(project, reason, jitter)
}

// endBurst fires the trailing trigger of a burst that went quiet. A
// timer re-armed while its last firing waited for the lock finds its
// burst gone and does nothing.
func (p *Pushes) endBurst(project string, b *burst) {
	p.mu.Lock()
	if p.closed || p.bursts[project] != b {
		p.mu.Unlock()
		return
	}
	delete(p.bursts, project)
	fire, reason, jitter := b.pending, b.reason, p.jitter
	p.mu.Unlock()
	if fire {
		p.start(project, reason, jitter)
	}
}

// start triggers a run now, or after a random delay within jitter. The
// engine is called without the lock held: it may take the node's.
func (p *Pushes) start(project, reason string, jitter time.Duration) {
	if jitter <= 0 {
		p.runs.Trigger(project, reason)
		return
	}
	p.clock.AfterFunc(rand.N(jitter), func() {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.fired.Add(1)
		p.mu.Unlock()
		defer p.fired.Done()
		p.runs.Trigger(project, reason)
	})
}

// clock is what Pushes needs of time; tests drive one by hand.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

type timer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }
