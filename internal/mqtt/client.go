// Package mqtt carries "module changed" announcements from the upstream to
// the nodes over MQTT: the node's subscriber (which parses, counts junk
// and hands the rest to the node's push policy, syncer.Pushes), the
// announcer's publisher, and an embedded broker for small setups. The
// wire format is internal/announcement's.
package mqtt

import (
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"micromirror/internal/certs"
)

// ClientConfig is how to reach a broker.
type ClientConfig struct {
	Broker       string // tcp://, ssl://, ws://, wss:// URL
	ClientID     string
	Username     string
	PasswordFile string // secrets come by file and are never logged
	CAFile       string
}

// options builds paho options common to subscriber and publisher.
func (c ClientConfig) options() (*paho.ClientOptions, error) {
	o := paho.NewClientOptions().AddBroker(c.Broker).SetClientID(c.ClientID).
		SetKeepAlive(30 * time.Second).SetPingTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).SetWriteTimeout(10 * time.Second)
	if c.Username != "" {
		o.SetUsername(c.Username)
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt password_file: %w", err)
		}
		o.SetPassword(strings.TrimRight(string(b), "\r\n"))
	}
	if c.CAFile != "" {
		pool, err := certs.LoadCAPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt ca_file: %w", err)
		}
		o.SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	return o, nil
}
