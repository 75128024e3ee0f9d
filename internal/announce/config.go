// Package announce runs on the upstream mirror: it watches the trees of
// the modules it is told about and publishes "module changed" messages
// once a module has been still for its quiet period.
package announce

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"micromirror/internal/config"
)

// Config is announce.yaml.
type Config struct {
	// Broker is a broker URL, or "embedded" to run one in this process.
	Broker string `yaml:"broker"`
	// Listen is the embedded broker's address.
	Listen string `yaml:"listen"`
	// Users may connect to the embedded broker (none: anyone who reaches it).
	Users        []User `yaml:"users"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	CAFile       string `yaml:"ca_file"`
	// Upstream is the host part of the topics: rsync/<upstream>/<module>.
	Upstream string          `yaml:"upstream"`
	Poll     config.Duration `yaml:"poll"`
	Quiet    config.Duration `yaml:"quiet"`
	Modules  []Module        `yaml:"modules"`
}

// User is an embedded-broker account; the password comes by file.
type User struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// Module is one watched tree.
type Module struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
	// Marker is a file inside the tree that changes on every update
	// (Debian trace, Arch lastupdate); polled instead of walking the tree.
	Marker string          `yaml:"marker"`
	Quiet  config.Duration `yaml:"quiet"`
}

// Load reads and checks an announce config; errors name the key.
func Load(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c := Config{Poll: config.Dur(10 * time.Second), Quiet: config.Dur(30 * time.Second), Listen: "127.0.0.1:1883"}
	if err := yaml.UnmarshalWithOptions(src, &c, yaml.DisallowUnknownField()); err != nil {
		return Config{}, fmt.Errorf("%s: %s", path, yaml.FormatError(err, false, true))
	}
	base := filepath.Dir(path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.PasswordFile)
	abs(&c.CAFile)
	for i := range c.Users {
		abs(&c.Users[i].PasswordFile)
	}
	for i := range c.Modules {
		abs(&c.Modules[i].Path)
	}
	var errs []error
	bad := func(k, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", path, k, fmt.Sprintf(f, a...)))
	}
	if c.Broker == "" {
		bad("broker", "required: a broker URL or \"embedded\"")
	}
	if c.Upstream == "" || strings.ContainsAny(c.Upstream, "/+# ") {
		bad("upstream", "required: the upstream's hostname as nodes know it")
	}
	if len(c.Modules) == 0 {
		bad("modules", "list at least one module")
	}
	for _, d := range []struct {
		k string
		v config.Duration
	}{{"poll", c.Poll}, {"quiet", c.Quiet}} {
		if err := d.v.Err(); err != nil {
			bad(d.k, "%v", err)
		}
	}
	for i, m := range c.Modules {
		if m.Name == "" || strings.ContainsAny(m.Name, "/+# ") {
			bad(fmt.Sprintf("modules[%d].name", i), "%q is not a module name", m.Name)
		}
		if m.Path == "" {
			bad(fmt.Sprintf("modules[%d].path", i), "required")
		}
		if err := m.Quiet.Err(); err != nil {
			bad(fmt.Sprintf("modules[%d].quiet", i), "%v", err)
		}
	}
	for i, u := range c.Users {
		if u.Username == "" || u.PasswordFile == "" {
			bad(fmt.Sprintf("users[%d]", i), "username and password_file are required")
		}
	}
	return c, errors.Join(errs...)
}
