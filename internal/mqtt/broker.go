package mqtt

import (
	"fmt"
	"log/slog"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is the embedded MQTT broker (mochi-mqtt) for setups too small
// for Mosquitto.
type Broker struct {
	srv *mochi.Server
	tcp *listeners.TCP
}

// StartBroker listens on addr. With users (name -> password) only they
// may connect; without, anyone who can reach addr may.
func StartBroker(addr string, users map[string]string, log *slog.Logger) (*Broker, error) {
	srv := mochi.New(&mochi.Options{Logger: log})
	var err error
	if len(users) == 0 {
		err = srv.AddHook(new(auth.AllowHook), nil)
	} else {
		var rules auth.AuthRules
		for u, p := range users {
			rules = append(rules, auth.AuthRule{Username: auth.RString(u), Password: auth.RString(p), Allow: true})
		}
		err = srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: rules}})
	}
	if err != nil {
		return nil, fmt.Errorf("broker auth: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("broker listen %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	return &Broker{srv: srv, tcp: tcp}, nil
}

// Addr is the bound address.
func (b *Broker) Addr() string { return b.tcp.Address() }

// Close stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }
