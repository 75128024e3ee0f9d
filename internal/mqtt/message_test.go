package mqtt

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

type countTarget struct {
	mu       sync.Mutex
	triggers []time.Time
}

func (c *countTarget) ProjectsForModule(string) []string { return []string{"p"} }
func (c *countTarget) LastSuccess(string) time.Time      { return time.Time{} }
func (c *countTarget) Trigger(string, string) error {
	c.mu.Lock()
	c.triggers = append(c.triggers, time.Now())
	c.mu.Unlock()
	return nil
}

// TestBurstLeadingAndTrailing: a burst gives one trigger at once and one
// after it has been quiet; a lone message gives exactly one.
func TestBurstLeadingAndTrailing(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	ct := &countTarget{}
	s, err := NewSubscriber(SubscriberConfig{ClientConfig: ClientConfig{Broker: "tcp://127.0.0.1:1", ClientID: "x"}}, ct, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 50 {
		s.trigger("p", "mqtt")
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(burstQuiet + 300*time.Millisecond)
	ct.mu.Lock()
	got := append([]time.Time{}, ct.triggers...)
	ct.mu.Unlock()
	if len(got) != 2 || got[0].Sub(start) > 50*time.Millisecond || got[1].Sub(start) < burstQuiet {
		t.Fatalf("burst gave triggers at %v", got)
	}
	s.trigger("p", "mqtt")
	time.Sleep(burstQuiet + 300*time.Millisecond)
	if ct.mu.Lock(); len(ct.triggers) != 3 {
		t.Errorf("a lone message gave %d triggers", len(ct.triggers)-2)
	}
	ct.mu.Unlock()
}

// TestEndlessStreamStillSyncs: announcements that never pause (one every
// half second) still give a run at least every burstMaxDefer, not only
// the first: each message restarted the quiet timer, for ever.
func TestEndlessStreamStillSyncs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	ct := &countTarget{}
	s, err := NewSubscriber(SubscriberConfig{ClientConfig: ClientConfig{Broker: "tcp://127.0.0.1:1", ClientID: "x"}}, ct, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < burstMaxDefer+3*time.Second {
		s.trigger("p", "mqtt")
		time.Sleep(500 * time.Millisecond)
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if len(ct.triggers) < 2 || ct.triggers[1].Sub(ct.triggers[0]) > burstMaxDefer+time.Second {
		t.Errorf("an endless stream gave triggers at %v", ct.triggers)
	}
}

type timesTarget struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (c *timesTarget) ProjectsForModule(string) []string { return nil }
func (c *timesTarget) LastSuccess(string) time.Time      { return time.Time{} }
func (c *timesTarget) Trigger(p string, _ string) error {
	c.mu.Lock()
	c.at[p] = time.Now()
	c.mu.Unlock()
	return nil
}

// TestJitterSpreadsStarts: with jitter, triggers land at random times
// within it instead of all at once.
func TestJitterSpreadsStarts(t *testing.T) {
	tt := &timesTarget{at: map[string]time.Time{}}
	s, _ := NewSubscriber(SubscriberConfig{ClientConfig: ClientConfig{Broker: "tcp://127.0.0.1:1", ClientID: "x"}, Jitter: 400 * time.Millisecond},
		tt, slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := time.Now()
	for i := range 20 {
		s.fire(string(rune('a'+i)), "mqtt")
	}
	time.Sleep(600 * time.Millisecond)
	tt.mu.Lock()
	defer tt.mu.Unlock()
	var first, last time.Duration = time.Hour, 0
	for _, at := range tt.at {
		d := at.Sub(start)
		first, last = min(first, d), max(last, d)
	}
	if len(tt.at) != 20 || last > 450*time.Millisecond || last-first < 50*time.Millisecond {
		t.Errorf("%d triggers between %v and %v", len(tt.at), first, last)
	}
}
