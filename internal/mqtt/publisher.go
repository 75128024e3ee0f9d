package mqtt

import (
	"fmt"
	"time"

	"micromirror/internal/announcement"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Publisher sends announcements at QoS 1, retained, so a node that
// reconnects after a long outage learns of the last change per module.
type Publisher struct {
	client paho.Client
	host   string
}

// NewPublisher connects to the broker; upstreamHost is the topic's host.
func NewPublisher(cfg ClientConfig, upstreamHost string) (*Publisher, error) {
	o, err := cfg.options()
	if err != nil {
		return nil, err
	}
	o.SetCleanSession(true).SetAutoReconnect(true)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", cfg.Broker, errOr(tok.Error(), "timeout"))
	}
	return &Publisher{client: c, host: upstreamHost}, nil
}

// Announce publishes one module's change and waits for the broker's PUBACK.
func (p *Publisher) Announce(a announcement.Announcement) error {
	if a.Time.IsZero() {
		a.Time = time.Now().UTC()
	}
	if a.Serial == "" {
		a.Serial = a.Time.UTC().Format("20060102T150405Z")
	}
	tok := p.client.Publish(announcement.Topic(p.host, a.Module), 1, true, a.Encode())
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("publish %s: %v", a.Module, errOr(tok.Error(), "no acknowledgement"))
	}
	return nil
}

// Close disconnects.
func (p *Publisher) Close() { p.client.Disconnect(250) }

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}
