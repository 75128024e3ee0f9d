package mqtt

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"micromirror/internal/announcement"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Target is what announcements act on: the node's sync engine.
type Target interface {
	ProjectsForModule(module string) []string
	LastSuccess(project string) time.Time
	Trigger(project, reason string) error
}

// SubscriberConfig configures a node's subscription.
type SubscriberConfig struct {
	ClientConfig
	Topics []string // filters, e.g. rsync/mirror.example.net/#
	// Jitter delays each trigger by a random time up to this, for operators
	// who want spread-out starts instead of lockstep. 0 = lockstep.
	Jitter time.Duration
}

// Stats count what the subscriber saw. Junk is counted, never fatal.
type Stats struct {
	Connected    bool      `json:"connected"`
	Connects     uint64    `json:"connects"`
	ConnLost     uint64    `json:"connections_lost"`
	Received     uint64    `json:"received"`
	Triggered    uint64    `json:"triggered"`
	Current      uint64    `json:"current"`   // retained news older than our last success
	Duplicate    uint64    `json:"duplicate"` // the same announcement again
	UnknownTopic uint64    `json:"unknown_topic"`
	NotHosted    uint64    `json:"not_hosted"`
	Malformed    uint64    `json:"malformed"`
	Oversized    uint64    `json:"oversized"`
	LastMessage  time.Time `json:"last_message,omitzero"`
}

// Subscriber keeps a QoS 1 persistent session with the broker: messages
// published while the node is briefly away are delivered on reconnect.
type Subscriber struct {
	cfg    SubscriberConfig
	target Target
	log    *slog.Logger
	client paho.Client

	connected                                                                       atomic.Bool
	connects, lost, received, triggered, current, dup, unknown, notHosted, bad, big atomic.Uint64
	lastMsg                                                                         atomic.Int64

	mu     sync.Mutex // guards seen and bursts
	seen   map[string]sighting
	bursts map[string]*burst
}

// sighting is the last announcement seen for a module.
type sighting struct {
	payload string
	at      time.Time
}

// dupWindow: the same serial for a module within this time is the same
// change announced again (a flood, a retry, a replay).
const dupWindow = 10 * time.Minute

// duplicate records an announcement's serial and reports whether it
// repeats the last one for the module. Only a serial identifies a
// change: a free-text payload (a stock `mosquitto_pub -m debian`) says
// the same for every change, so it is never a duplicate.
func (s *Subscriber) duplicate(module, serial string, now time.Time) bool {
	if serial == "" {
		return false // nothing identifies the change: let the engine coalesce
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.seen[module]
	if ok && last.payload == serial && now.Sub(last.at) < dupWindow {
		return true
	}
	s.seen[module] = sighting{payload: serial, at: now}
	return false
}

// NewSubscriber prepares a subscriber; Start connects.
func NewSubscriber(cfg SubscriberConfig, target Target, log *slog.Logger) (*Subscriber, error) {
	s := &Subscriber{cfg: cfg, target: target, log: log, seen: map[string]sighting{}, bursts: map[string]*burst{}}
	o, err := cfg.options()
	if err != nil {
		return nil, err
	}
	o.SetCleanSession(false). // the broker queues QoS 1 messages while we are away
					SetAutoReconnect(true).SetConnectRetry(true).
					SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(30 * time.Second).
					SetOrderMatters(false).
					SetDefaultPublishHandler(s.onMessage). // queued messages can beat the SUBSCRIBE
					SetOnConnectHandler(s.onConnect).
					SetConnectionLostHandler(func(_ paho.Client, err error) {
			s.connected.Store(false)
			s.lost.Add(1)
			s.log.Warn("mqtt connection lost, reconnecting", "err", err)
		})
	s.client = paho.NewClient(o)
	return s, nil
}

// Start connects in the background, retrying with backoff until Close.
func (s *Subscriber) Start() {
	s.client.Connect() // with ConnectRetry the token completes only on success
}

func (s *Subscriber) onConnect(c paho.Client) {
	filters := map[string]byte{}
	for _, t := range s.cfg.Topics {
		filters[t] = 1
	}
	tok := c.SubscribeMultiple(filters, s.onMessage)
	if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		s.connected.Store(true)
		s.connects.Add(1)
		s.log.Info("mqtt subscribed", "broker", s.cfg.Broker, "topics", s.cfg.Topics)
		return
	}
	s.log.Error("mqtt subscribe failed", "err", tok.Error())
}

func (s *Subscriber) onMessage(_ paho.Client, m paho.Message) {
	s.received.Add(1)
	s.lastMsg.Store(time.Now().UnixNano())
	_, module, ok := announcement.ParseTopic(m.Topic())
	if !ok {
		s.unknown.Add(1)
		return
	}
	a, err := announcement.ParsePayload(m.Payload())
	switch {
	case errors.Is(err, announcement.ErrOversized):
		s.big.Add(1)
		return
	case err != nil:
		s.bad.Add(1)
		return
	}
	projects := s.target.ProjectsForModule(module)
	if len(projects) == 0 {
		s.notHosted.Add(1)
		return
	}
	if !m.Retained() && s.duplicate(module, a.Serial, time.Now()) {
		s.dup.Add(1)
		s.log.Debug("mqtt duplicate announcement ignored", "module", module, "serial", a.Serial)
		return
	}
	reason := "mqtt"
	for _, p := range projects {
		// A retained message replays the last change on every subscribe:
		// act on it only if it is newer than our last success.
		if m.Retained() && !a.Time.IsZero() && !s.target.LastSuccess(p).Before(a.Time) {
			s.current.Add(1)
			continue
		}
		if m.Retained() {
			reason = "mqtt-catch-up"
		}
		s.triggered.Add(1)
		s.trigger(p, reason)
	}
}

// burst coalesces a flood of triggers for one project: the first fires at
// once (the fleet stays in lockstep); later ones within burstQuiet of each
// other fold into one trailing trigger after the flood, so every message
// is still followed by a run that starts after it. An endless stream is
// not an endless flood: a trailing trigger waits at most burstMaxDefer
// after the first message it stands for.
type burst struct {
	timer   *time.Timer
	pending bool
	since   time.Time // of the first message the pending trigger stands for
	reason  string
}

const (
	burstQuiet    = time.Second
	burstMaxDefer = 10 * time.Second
)

func (s *Subscriber) trigger(project, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bursts[project]; b != nil {
		now := time.Now()
		if !b.pending {
			b.pending, b.since = true, now
		}
		b.reason = reason
		b.timer.Reset(max(0, min(burstQuiet, b.since.Add(burstMaxDefer).Sub(now))))
		return
	}
	b := &burst{}
	b.timer = time.AfterFunc(burstQuiet, func() {
		s.mu.Lock()
		fire, reason := b.pending, b.reason
		delete(s.bursts, project)
		s.mu.Unlock()
		if fire {
			s.fire(project, reason)
		}
	})
	s.bursts[project] = b
	s.fire(project, reason)
}

func (s *Subscriber) fire(project, reason string) {
	if s.cfg.Jitter <= 0 {
		s.target.Trigger(project, reason)
		return
	}
	time.AfterFunc(rand.N(s.cfg.Jitter), func() { s.target.Trigger(project, reason) })
}

// Stats returns the counters.
func (s *Subscriber) Stats() Stats {
	st := Stats{Connected: s.connected.Load() && s.client.IsConnectionOpen(), Connects: s.connects.Load(), ConnLost: s.lost.Load(),
		Received: s.received.Load(), Triggered: s.triggered.Load(), Current: s.current.Load(), Duplicate: s.dup.Load(), UnknownTopic: s.unknown.Load(),
		NotHosted: s.notHosted.Load(), Malformed: s.bad.Load(), Oversized: s.big.Load()}
	if n := s.lastMsg.Load(); n > 0 {
		st.LastMessage = time.Unix(0, n)
	}
	return st
}

// Close disconnects, keeping the session on the broker for next time.
func (s *Subscriber) Close() {
	s.client.Disconnect(250)
}
