package mqtt

import (
	"fmt"
	"time"

	"micromirror/internal/announcement"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Listen follows announcements for observers (the watchtower): fn gets
// each valid announcement's module, with its time (the receive time when
// the payload has none). Retained messages replay the last change per
// module at every connect. Junk is dropped. stop disconnects.
func Listen(cfg ClientConfig, topics []string, fn func(module string, a announcement.Announcement)) (stop func(), err error) {
	o, err := cfg.options()
	if err != nil {
		return nil, err
	}
	handler := func(_ paho.Client, m paho.Message) {
		_, module, ok := announcement.ParseTopic(m.Topic())
		if !ok {
			return
		}
		a, err := announcement.ParsePayload(m.Payload())
		if err != nil {
			return
		}
		if a.Time.IsZero() {
			a.Time = time.Now().UTC()
		}
		a.Module = module
		fn(module, a)
	}
	o.SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30 * time.Second).SetOrderMatters(false).
		SetOnConnectHandler(func(c paho.Client) {
			filters := map[string]byte{}
			for _, t := range topics {
				filters[t] = 1
			}
			c.SubscribeMultiple(filters, handler)
		})
	c := paho.NewClient(o)
	tok := c.Connect()
	if tok.WaitTimeout(100*time.Millisecond) && tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %w", cfg.Broker, tok.Error())
	}
	return func() { c.Disconnect(250) }, nil
}
