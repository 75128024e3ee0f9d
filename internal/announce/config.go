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

	"micromirror/internal/yamlconf"
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
	Upstream string            `yaml:"upstream"`
	Poll     yamlconf.Duration `yaml:"poll"`
	Quiet    yamlconf.Duration `yaml:"quiet"`
	Modules  []Module          `yaml:"modules"`
	// Journal keeps a change journal in each module's tree
	// (.micromirror/journal) for nodes to transfer only what changed;
	// default on, where the announcer may write that directory.
	Journal *bool `yaml:"journal"`
	// ModulesFile holds more modules, in a file of their own (`micromirror
	// fleet render` writes announce/modules.yaml).
	ModulesFile string `yaml:"modules_file"`
}

// JournalOn says whether the announcer keeps change journals.
func (c Config) JournalOn() bool { return c.Journal == nil || *c.Journal }

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
	Marker string            `yaml:"marker"`
	Quiet  yamlconf.Duration `yaml:"quiet"`
}

// Load reads and checks an announce config; errors name the key.
func Load(path string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c := Config{Poll: yamlconf.Dur(10 * time.Second), Quiet: yamlconf.Dur(30 * time.Second), Listen: "127.0.0.1:1883"}
	if err := yamlconf.Decode(path, src, &c); err != nil {
		return Config{}, err
	}
	base := filepath.Dir(path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.PasswordFile)
	abs(&c.CAFile)
	abs(&c.ModulesFile)
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
	for _, d := range []struct {
		k string
		v yamlconf.Duration
	}{{"poll", c.Poll}, {"quiet", c.Quiet}} {
		if err := d.v.Err(); err != nil {
			bad(d.k, "%v", err)
		}
	}
	seen := map[string]bool{}
	errs = append(errs, checkModules(path, c.Modules, seen)...)
	if c.ModulesFile != "" {
		more, err := LoadModules(c.ModulesFile)
		if err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, checkModules(c.ModulesFile, more, seen)...)
		c.Modules = append(c.Modules, more...)
	}
	if len(c.Modules) == 0 {
		bad("modules", "list at least one module (or a modules_file)")
	}
	for i, u := range c.Users {
		if u.Username == "" || u.PasswordFile == "" {
			bad(fmt.Sprintf("users[%d]", i), "username and password_file are required")
		}
	}
	return c, errors.Join(errs...)
}

// ModulesFile is the file of modules_file: the modules to watch.
type ModulesFile struct {
	Modules []Module `yaml:"modules"`
}

// LoadModules reads a modules file; relative paths are relative to it.
// Bad values are Load's to report, with the other modules in view.
func LoadModules(path string) ([]Module, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read modules file: %w", err)
	}
	var f ModulesFile
	if err := yamlconf.Decode(path, src, &f); err != nil {
		return nil, err
	}
	for i := range f.Modules {
		if p := f.Modules[i].Path; p != "" && !filepath.IsAbs(p) {
			f.Modules[i].Path = filepath.Join(filepath.Dir(path), p)
		}
	}
	return f.Modules, nil
}

// CheckModules validates a module list as the announcer does at start.
func CheckModules(path string, modules []Module) error {
	return errors.Join(checkModules(path, modules, map[string]bool{})...)
}

// checkModules validates modules read from path; seen carries the names
// already read, so a module listed twice is caught across files.
func checkModules(path string, modules []Module, seen map[string]bool) []error {
	var errs []error
	bad := func(k, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", path, k, fmt.Sprintf(f, a...)))
	}
	for i, m := range modules {
		if m.Name == "" || strings.ContainsAny(m.Name, "/+# ") {
			bad(fmt.Sprintf("modules[%d].name", i), "%q is not a module name", m.Name)
		} else if seen[m.Name] {
			bad(fmt.Sprintf("modules[%d].name", i), "%q is listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Path == "" {
			bad(fmt.Sprintf("modules[%d].path", i), "required")
		}
		if err := m.Quiet.Err(); err != nil {
			bad(fmt.Sprintf("modules[%d].quiet", i), "%v", err)
		}
	}
	return errs
}
