package inventory

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/goccy/go-yaml"

	"micromirror/internal/atomicfile"
	"micromirror/internal/yamlconf"
)

// Secrets is the fleet's secrets file, kept apart from the inventory (and
// out of version control): each node's telemetry token and the nodes'
// broker password. Its values are never printed or logged.
type Secrets struct {
	// MQTTPassword is the password of the fleet's mqtt.username.
	MQTTPassword string `yaml:"mqtt_password,omitempty"`
	// TelemetryTokens maps node hostnames to their watchtower tokens.
	TelemetryTokens map[string]string `yaml:"telemetry_tokens"`
	// WatchtowerOperatorToken is the operator's token the fleet tools
	// read the watchtower's API with (its hash is the watchtower's
	// operator_token_sha256).
	WatchtowerOperatorToken string `yaml:"watchtower_operator_token,omitempty"`
}

// errLineRE finds the line in "file:line:col: message".
var errLineRE = regexp.MustCompile(`^[^\n]*?:(\d+):\d+:`)

// LoadSecrets reads a secrets file. It refuses a file that others than its
// owner may read, as ssh does with keys. A missing file is an empty set.
func LoadSecrets(path string) (*Secrets, error) {
	s := &Secrets{TelemetryTokens: map[string]string{}}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets file %s is readable by others (mode %04o): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if err := yamlconf.Decode(path, src, s); err != nil {
		// The decoder's message quotes the file; name only the line.
		where := ""
		if m := errLineRE.FindStringSubmatch(err.Error()); m != nil {
			where = " at line " + m[1]
		}
		return nil, fmt.Errorf("secrets file %s is malformed%s (want mqtt_password and telemetry_tokens: {hostname: token}; contents not shown)", path, where)
	}
	if s.TelemetryTokens == nil {
		s.TelemetryTokens = map[string]string{}
	}
	return s, nil
}

// Missing lists what the fleet needs from the secrets file and it lacks.
func (s *Secrets) Missing(f *Fleet) []string {
	var out []string
	if f.MQTT.Broker != "" && f.MQTT.Username != "" && s.MQTTPassword == "" {
		out = append(out, "mqtt_password")
	}
	if f.Watchtower.URL != "" {
		for _, n := range f.Live() {
			if s.TelemetryTokens[n.Name] == "" {
				out = append(out, "telemetry_tokens."+n.Name)
			}
		}
	}
	return out
}

// Fill generates what is missing (256-bit random tokens), and the
// operator's watchtower token, and returns the names it added, never the
// values.
func (s *Secrets) Fill(f *Fleet) ([]string, error) {
	added := s.Missing(f)
	// Not needed to render (the nodes never see it), but the fleet tools
	// read the watchtower with it.
	if f.Watchtower.URL != "" && s.WatchtowerOperatorToken == "" {
		added = append(added, "watchtower_operator_token")
	}
	for _, key := range added {
		tok, err := newToken()
		if err != nil {
			return nil, err
		}
		switch key {
		case "mqtt_password":
			s.MQTTPassword = tok
		case "watchtower_operator_token":
			s.WatchtowerOperatorToken = tok
		default:
			s.TelemetryTokens[key[len("telemetry_tokens."):]] = tok
		}
	}
	return added, nil
}

// Stale lists the hostnames with tokens that are no longer live nodes.
func (s *Secrets) Stale(f *Fleet) []string {
	var out []string
	for name := range s.TelemetryTokens {
		if n := f.NodeByName(name); n == nil || n.Status == Retired {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Save writes the file atomically, readable by its owner only.
func (s *Secrets) Save(path string) error {
	body, err := yaml.Marshal(s)
	if err != nil {
		return err
	}
	header := "# micromirror fleet secrets: keep out of version control, mode 600.\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, append([]byte(header), body...), 0o600)
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
