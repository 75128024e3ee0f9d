package syncer

import (
	"slices"
	"sync"
	"testing"
	"time"

	"micromirror/internal/announcement"
)

// fakeClock runs timers when the test advances it, on the test's
// goroutine: no sleeps, no wall-clock limits.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	asked  []time.Duration // every AfterFunc's delay
}

type fakeTimer struct {
	c      *fakeClock
	at     time.Time
	f      func()
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f, active: true}
	c.timers = append(c.timers, t)
	c.asked = append(c.asked, d)
	return t
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.at, t.active = t.c.now.Add(d), true
	return was
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// Advance moves the clock by d, running each timer that falls due, in
// order of its time.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if t.active && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		c.now, next.active = next.at, false
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// fakeRuns records triggers with the fake clock's time.
type fakeRuns struct {
	clock   *fakeClock
	modules map[string][]string
	success map[string]time.Time

	mu       sync.Mutex
	triggers []trig
}

type trig struct {
	project, reason string
	at              time.Time
}

func (r *fakeRuns) ProjectsForModule(m string) []string { return r.modules[m] }
func (r *fakeRuns) LastSuccess(p string) time.Time      { return r.success[p] }
func (r *fakeRuns) Trigger(p, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.triggers = append(r.triggers, trig{p, reason, r.clock.Now()})
	return nil
}

func (r *fakeRuns) got() []trig {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.triggers)
}

func newTestPushes(jitter time.Duration) (*Pushes, *fakeRuns, *fakeClock) {
	c := newFakeClock()
	r := &fakeRuns{clock: c, modules: map[string][]string{"debian": {"debian"}}, success: map[string]time.Time{}}
	for i := range 20 {
		m := string(rune('a' + i))
		r.modules[m] = []string{m}
	}
	return newPushes(r, jitter, c), r, c
}

// TestBurstLeadingAndTrailing: a burst gives one run at once and one
// after it has been quiet; a lone push gives exactly one.
func TestBurstLeadingAndTrailing(t *testing.T) {
	p, r, c := newTestPushes(0)
	start := c.Now()
	for range 50 {
		p.Announce("debian", announcement.Announcement{Text: "debian"}, false)
		c.Advance(10 * time.Millisecond)
	}
	if got := r.got(); len(got) != 1 || !got[0].at.Equal(start) {
		t.Fatalf("during the burst: %v, want one run at its start", got)
	}
	c.Advance(burstQuiet)
	got := r.got()
	if len(got) != 2 || got[1].at.Sub(start) != 490*time.Millisecond+burstQuiet {
		t.Fatalf("after the burst: %v, want a trailing run once it was quiet for %v", got, burstQuiet)
	}
	p.Announce("debian", announcement.Announcement{Text: "debian"}, false)
	c.Advance(3 * burstQuiet)
	if got := r.got(); len(got) != 3 {
		t.Errorf("a lone push gave %d runs, want 1", len(got)-2)
	}
}

// TestEndlessStreamStillSyncs: pushes that never pause (one every half
// second) still give a run at least every burstMaxDefer, not only the
// first: before, each push restarted the quiet timer, for ever.
func TestEndlessStreamStillSyncs(t *testing.T) {
	p, r, c := newTestPushes(0)
	start := c.Now()
	for c.Now().Sub(start) < burstMaxDefer+3*time.Second {
		p.Announce("debian", announcement.Announcement{}, false)
		c.Advance(500 * time.Millisecond)
	}
	got := r.got()
	// The second push (at 0.5 s) is the first the trailing run stands for.
	if len(got) < 2 || got[1].at.Sub(got[0].at) != 500*time.Millisecond+burstMaxDefer {
		t.Errorf("an endless stream gave runs at %v", got)
	}
}

// TestJitterSpreadsStarts: with jitter, runs start at random times
// within it instead of all at once.
func TestJitterSpreadsStarts(t *testing.T) {
	const jitter = 400 * time.Millisecond
	p, r, c := newTestPushes(jitter)
	for i := range 20 {
		p.Announce(string(rune('a'+i)), announcement.Announcement{}, false)
	}
	if got := r.got(); len(got) != 0 {
		t.Fatalf("%d runs started before any jitter passed", len(got))
	}
	c.Advance(jitter)
	got := r.got()
	if len(got) != 20 {
		t.Fatalf("%d of 20 runs started within the jitter", len(got))
	}
	first, last := got[0].at, got[len(got)-1].at
	if !last.After(first) {
		t.Errorf("all 20 runs started at %v: not spread", first)
	}
}

// TestDuplicatesAndRetained: a serial seen again within the window is a
// duplicate, later or different it is news; free text is never a
// duplicate; a retained message starts a run only when newer than the
// last success; a module nobody hosts starts nothing.
func TestDuplicatesAndRetained(t *testing.T) {
	p, r, c := newTestPushes(0)
	a := announcement.Announcement{Module: "debian", Serial: "7"}
	if o := p.Announce("debian", a, false); !o.Hosted || o.Duplicate || o.Triggered != 1 {
		t.Fatalf("first: %+v", o)
	}
	c.Advance(2 * burstQuiet)
	if o := p.Announce("debian", a, false); !o.Duplicate || o.Triggered != 0 {
		t.Errorf("the same serial again: %+v, want a duplicate", o)
	}
	c.Advance(dupWindow)
	if o := p.Announce("debian", a, false); o.Duplicate || o.Triggered != 1 {
		t.Errorf("the same serial after %v: %+v, want news", dupWindow, o)
	}
	c.Advance(2 * burstQuiet)
	for range 2 {
		if o := p.Announce("debian", announcement.Announcement{Text: "debian"}, false); o.Duplicate {
			t.Errorf("free text counted as a duplicate")
		}
	}
	if o := p.Announce("nothere", a, false); o.Hosted || o.Triggered != 0 {
		t.Errorf("an unhosted module: %+v", o)
	}
	r.success["debian"] = c.Now()
	old := announcement.Announcement{Module: "debian", Time: c.Now().Add(-time.Hour)}
	if o := p.Announce("debian", old, true); o.Current != 1 || o.Triggered != 0 {
		t.Errorf("a retained message older than the last success: %+v, want current", o)
	}
	c.Advance(2 * burstQuiet)
	n := len(r.got())
	newer := announcement.Announcement{Module: "debian", Serial: "7", Time: c.Now().Add(time.Minute)}
	if o := p.Announce("debian", newer, true); o.Triggered != 1 || o.Duplicate {
		t.Errorf("a newer retained message: %+v, want a run (never a duplicate)", o)
	}
	if got := r.got(); len(got) != n+1 || got[n].reason != "mqtt-catch-up" {
		t.Errorf("retained run: %v", got[n:])
	}
}

// TestCloseStopsDelayedRuns: after Close neither a jittered start nor a
// burst's trailing run reaches the engine.
func TestCloseStopsDelayedRuns(t *testing.T) {
	p, r, c := newTestPushes(time.Second)
	p.Announce("a", announcement.Announcement{}, false)
	p.Announce("a", announcement.Announcement{}, false) // pending trailing run
	p.Close()
	c.Advance(time.Hour)
	if got := r.got(); len(got) != 0 {
		t.Errorf("%d runs started after Close", len(got))
	}
	p.Announce("a", announcement.Announcement{}, false)
	c.Advance(time.Hour)
	if got := r.got(); len(got) != 0 {
		t.Errorf("a push after Close started %d runs", len(got))
	}
}

// TestStaleBurstTimer: a burst timer that fires again after its burst
// ended (re-armed while its last firing waited for the lock) neither
// fires nor removes the burst that followed.
func TestStaleBurstTimer(t *testing.T) {
	p, r, c := newTestPushes(0)
	p.Announce("debian", announcement.Announcement{}, false)
	first := p.bursts["debian"]
	c.Advance(burstQuiet)
	p.Announce("debian", announcement.Announcement{}, false)
	p.Announce("debian", announcement.Announcement{}, false) // the new burst's pending run
	next := p.bursts["debian"]
	p.endBurst("debian", first)
	if p.bursts["debian"] != next {
		t.Fatal("a stale timer removed the burst after it")
	}
	if got := r.got(); len(got) != 2 {
		t.Fatalf("a stale timer started a run: %v", got)
	}
	c.Advance(burstQuiet)
	if got := r.got(); len(got) != 3 {
		t.Errorf("the new burst's trailing run: %v", got)
	}
}
