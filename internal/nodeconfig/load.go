package nodeconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"micromirror/internal/yamlconf"
)

// Load reads, decodes and validates a node config file. Relative paths in
// the file are taken relative to the file's directory, so a config works the
// same from any working directory.
func Load(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, src)
}

// Parse decodes and validates config source; name is used in messages and
// to resolve relative paths.
func Parse(name string, src []byte) (Config, error) {
	cfg := Default()
	if strings.TrimSpace(string(src)) == "" {
		return Config{}, fmt.Errorf("%s: config is empty", name)
	}
	if err := yamlconf.Decode(name, src, &cfg); err != nil {
		return Config{}, err
	}
	base, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	cfg.Normalize(base)
	if errs := cfg.Validate(); len(errs) > 0 {
		return Config{}, yamlconf.Locate(name, src, errs)
	}
	return cfg, nil
}

// Normalize does what loading a file does after decoding: relative paths
// become relative to base (the file's directory) and MQTT defaults that
// depend on other keys are filled in.
func (c *Config) Normalize(base string) {
	c.resolvePaths(base)
	c.mqttDefaults()
}

func (c *Config) mqttDefaults() {
	if c.MQTT.Broker == "" {
		return
	}
	if len(c.MQTT.Topics) == 0 {
		host := "+"
		if c.Upstream != "" {
			host = UpstreamHost(c.Upstream)
		}
		c.MQTT.Topics = []string{"rsync/" + host + "/#"}
	}
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = c.Name
	}
}

func (c *Config) resolvePaths(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.StateDir)
	abs(&c.AccessLog)
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	abs(&c.Limits.Blocklist)
	abs(&c.Telemetry.TokenFile)
	abs(&c.Telemetry.SmartDir)
	abs(&c.Telemetry.CAFile)
	abs(&c.MQTT.PasswordFile)
	abs(&c.MQTT.CAFile)
	if c.TLS.ACME != nil {
		abs(&c.TLS.ACME.CAFile)
	}
}
