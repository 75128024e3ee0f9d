package mqtt

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"micromirror/internal/announcement"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Target is what announcements act on: the node's push policy
// (syncer.Pushes), which says what came of each.
type Target interface {
	Announce(module string, a announcement.Announcement, retained bool) announcement.Outcome
}

// SubscriberConfig configures a node's subscription.
type SubscriberConfig struct {
	ClientConfig
	Topics []string // filters, e.g. rsync/mirror.example.net/#
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
}

// NewSubscriber prepares a subscriber; Open connects.
func NewSubscriber(cfg SubscriberConfig, target Target, log *slog.Logger) (*Subscriber, error) {
	s := &Subscriber{cfg: cfg, target: target, log: log}
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

// Open connects in the background, retrying with backoff until Close.
func (s *Subscriber) Open() {
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
	out := s.target.Announce(module, a, m.Retained())
	switch {
	case !out.Hosted:
		s.notHosted.Add(1)
	case out.Duplicate:
		s.dup.Add(1)
		s.log.Debug("mqtt duplicate announcement ignored", "module", module, "serial", a.Serial)
	}
	s.current.Add(uint64(out.Current))
	s.triggered.Add(uint64(out.Triggered))
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
