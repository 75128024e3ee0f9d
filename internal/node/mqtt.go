package node

import (
	"time"

	"micromirror/internal/mqtt"
	"micromirror/internal/nodeconfig"
)

// startMQTT subscribes to upstream announcements when a broker is set.
func (n *Node) startMQTT(cfg nodeconfig.Config) error {
	if cfg.MQTT.Broker == "" {
		return nil
	}
	m := cfg.MQTT
	sub, err := mqtt.NewSubscriber(mqtt.SubscriberConfig{
		ClientConfig: mqtt.ClientConfig{Broker: m.Broker, ClientID: m.ClientID, Username: m.Username,
			PasswordFile: m.PasswordFile, CAFile: m.CAFile},
		Topics: m.Topics,
	}, n.pushes, n.log.With("component", "mqtt"))
	if err != nil {
		return err
	}
	n.sub = sub
	sub.Open()
	return nil
}

// engineTarget hands pushes to whichever engine is current, so a reload
// that restarts the engine needs no new subscription.
type engineTarget struct{ n *Node }

func (t engineTarget) ProjectsForModule(m string) []string { return t.n.Engine().ProjectsForModule(m) }

func (t engineTarget) LastSuccess(p string) time.Time { return t.n.Engine().LastSuccess(p) }

func (t engineTarget) Trigger(p, reason string) error { return t.n.Engine().Trigger(p, reason) }

// MQTTStats returns the subscriber's counters; ok is false without MQTT.
func (n *Node) MQTTStats() (mqtt.Stats, bool) {
	n.mu.Lock()
	sub := n.sub
	n.mu.Unlock()
	if sub == nil {
		return mqtt.Stats{}, false
	}
	return sub.Stats(), true
}
