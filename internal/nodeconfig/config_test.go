package nodeconfig

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const good = `name: ziply.mm.example.net
sponsor:
  name: Ziply Fiber
  url: https://ziplyfiber.com/
contact: noc@mm.example.net
data_dir: /srv/mirror
state_dir: /var/lib/micromirror
tls:
  cert_file: /etc/tls/cert.pem
  key_file: /etc/tls/key.pem
projects:
  - name: debian
  - name: epel-amd64
    path: epel
    bwlimit: 100Mbit
    schedule: 6h
`

func TestExampleConfigIsValid(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	cfg, err := Load(filepath.Join(filepath.Dir(file), "../../examples/node.yaml"))
	if err != nil {
		t.Fatalf("examples/node.yaml: %v", err)
	}
	if cfg.Name != "ziply.mm.example.net" || len(cfg.Projects) != 4 || cfg.Projects[2].URLPath() != "epel" {
		t.Errorf("example decoded as %+v", cfg)
	}
	if !filepath.IsAbs(cfg.DataDir) {
		t.Errorf("data_dir not resolved against the file: %s", cfg.DataDir)
	}
}

func TestRelativePathsBecomeAbsolute(t *testing.T) {
	cfg, err := Parse("examples/node.yaml", []byte(strings.Replace(good, "data_dir: /srv/mirror", "data_dir: ../var/mirror", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(cfg.DataDir) || !strings.HasSuffix(cfg.DataDir, "/var/mirror") {
		t.Errorf("data_dir from a relative config path = %q, want absolute", cfg.DataDir)
	}
}

func TestParseGood(t *testing.T) {
	cfg, err := Parse("node.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Projects[1].Bwlimit.BitsPerSecond(), int64(100e6); got != want {
		t.Errorf("bwlimit = %d, want %d", got, want)
	}
	if got := cfg.Projects[1].Schedule.D().Hours(); got != 6 {
		t.Errorf("schedule = %vh", got)
	}
	if cfg.DSCP != "cs1" || cfg.Listen.HTTP[0] != ":80" || cfg.Limits.RateLimit.Burst != 100 {
		t.Errorf("defaults not kept: %+v", cfg)
	}
}

// TestParseErrorsNameKeyAndLine: every bad input names the file, the line
// and the key, so an operator can fix a fleet's configs without guessing.
func TestParseErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string
		want    []string
	}{
		{"unknown key", [2]string{"  - name: debian\n", "  - name: debian\n    colour: blue\n"}, []string{"node.yaml:13:", `unknown field "colour"`}},
		{"unknown project", [2]string{"name: debian", "name: debain"}, []string{"node.yaml:12:", "projects[0].name", `"debain" is not in the catalog`}},
		{"bad rate", [2]string{"100Mbit", "fast"}, []string{"node.yaml:15:", "not a rate"}},
		{"bad duration", [2]string{"schedule: 6h", "schedule: daily"}, []string{"node.yaml:16:", "not a duration"}},
		{"too frequent", [2]string{"schedule: 6h", "schedule: 10s"}, []string{"node.yaml:16:", "projects[1].schedule"}},
		{"bad hostname", [2]string{"name: ziply.mm", "name: Ziply_MM"}, []string{"node.yaml:1:", "name:", "lowercase hostname"}},
		{"wrong type", [2]string{"data_dir: /srv/mirror", "data_dir: [a, b]"}, []string{"node.yaml:6:"}},
		{"missing sponsor", [2]string{"  name: Ziply Fiber\n", ""}, []string{"sponsor.name", "required"}},
		{"public admin", [2]string{"data_dir:", "listen:\n  admin: [\"0.0.0.0:9873\"]\ndata_dir:"}, []string{"node.yaml:7:", "listen.admin[0]", "never public"}},
		{"duplicate path", [2]string{"path: epel", "path: debian"}, []string{"node.yaml:14:", `"debian" overlaps projects[0]`}},
		{"path traversal", [2]string{"path: epel", "path: ../etc"}, []string{"projects[1].path", "no '..'"}},
		{"nested path", [2]string{"path: epel", "path: debian/epel"}, []string{"node.yaml:14:", `"debian/epel" overlaps projects[0]`}},
		{"module dir outside", [2]string{"path: epel", "path: epel\n    module_dir: debian"}, []string{"projects[1].module_dir", "or a directory above it"}},
		{"extra file in the tree", [2]string{"path: epel", "path: epel/x\n    extra_files: [epel/x/y]"}, []string{"projects[1].extra_files[0]", "the sync would delete it"}},
		{"extra file elsewhere", [2]string{"path: epel", "path: epel/x\n    extra_files: [debian/y]"}, []string{"projects[1].extra_files[0]", "inside the project's directory"}},
		{"duplicate module", [2]string{"path: epel", "path: epel\n    module: debian"}, []string{"projects[1].module", `"debian" is already projects[0]'s`}},
		{"upstream path and source", [2]string{"path: epel", "path: epel\n    source: rsync://x/y\n    upstream_path: y"}, []string{"projects[1].upstream_path", "not both"}},
		{"bad dscp", [2]string{"data_dir:", "dscp: ef\ndata_dir:"}, []string{"node.yaml:6:", "dscp", "cs1 or none"}},
		{"https without tls", [2]string{"tls:\n  cert_file: /etc/tls/cert.pem\n  key_file: /etc/tls/key.pem\n", ""}, []string{"tls", "listen.https is set"}},
		{"bad contact", [2]string{"contact: noc@mm.example.net", "contact: call us"}, []string{"node.yaml:5:", "contact"}},
		{"trigger with wildcard", [2]string{"    path: epel\n", "    path: epel\n    triggers: [\"fedora/#\"]\n"}, []string{"projects[1].triggers[0]"}},
		{"marker outside the tree", [2]string{"    path: epel\n", "    path: epel\n    upstream_markers: [../../etc/passwd]\n"}, []string{"node.yaml:15:", "projects[1].upstream_markers[0]", "inside the tree"}},
		{"bad stages", [2]string{"    path: epel\n", "    path: epel\n    stages: 3\n"}, []string{"node.yaml:15:", "projects[1].stages"}},
		{"bad broker", [2]string{"data_dir:", "mqtt:\n  broker: http://x\ndata_dir:"}, []string{"node.yaml:7:", "mqtt.broker"}},
		{"bad topic filter", [2]string{"data_dir:", "mqtt:\n  broker: tcp://b:1883\n  topics: [\"rsync/#/x\"]\ndata_dir:"}, []string{"node.yaml:8:", "mqtt.topics[0]"}},
		{"bad rate network", [2]string{"data_dir:", "limits:\n  rate_limit:\n    networks: [\"10.0.0.0/33\"]\ndata_dir:"}, []string{"node.yaml:8:", "limits.rate_limit.networks[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(good, tt.replace[0], tt.replace[1], 1)
			if src == good {
				t.Fatalf("replacement %q did not apply", tt.replace[0])
			}
			_, err := Parse("node.yaml", []byte(src))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestMQTTDefaults(t *testing.T) {
	src := strings.Replace(good, "data_dir:", "upstream: mirror.example.net\nmqtt: {broker: \"tcp://broker.example.net:1883\"}\ndata_dir:", 1)
	cfg, err := Parse("node.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT.Topics[0] != "rsync/mirror.example.net/#" || cfg.MQTT.ClientID != "ziply.mm.example.net" {
		t.Errorf("defaults: %+v", cfg.MQTT)
	}
}

func TestParseEmpty(t *testing.T) {
	if _, err := Parse("x.yaml", []byte("  \n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty config: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("projects: ! ")) // made the YAML library panic
	f.Add([]byte("projects:\n  - {name: debian, bwlimit: 1e400Mbit}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse("fuzz.yaml", src)
		if err == nil {
			if errs := cfg.Validate(); len(errs) > 0 {
				t.Fatalf("accepted config fails validation: %v", errs[0])
			}
		}
	})
}

// An upstream on another port: the rsync URLs take host:port, the MQTT
// topics the host alone (the announcer names the host).
func TestUpstreamWithPort(t *testing.T) {
	for s, ok := range map[string]bool{"mirror.example.net": true, "mirror.example.net:8873": true, "192.0.2.1": true,
		"192.0.2.1:873": true, "[2001:db8::1]:873": true, "2001:db8::1": true, "mirror:0": false, "mirror:http": false,
		"mirror:99999": false, "Mirror.Example": false, "a b": false} {
		if got := IsUpstream(s); got != ok {
			t.Errorf("IsUpstream(%q) = %v", s, got)
		}
	}
	src := "name: a.mm.example.net\nsponsor: {name: A}\ncontact: noc@mm.example.net\nupstream: mirror.example.net:8873\n" +
		"tls: {self_signed: true}\nmqtt: {broker: tcp://127.0.0.1:1883}\nprojects: [{name: gimp}]\n"
	cfg, err := Parse("node.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.MQTT.Topics) != 1 || cfg.MQTT.Topics[0] != "rsync/mirror.example.net/#" {
		t.Errorf("topics %v", cfg.MQTT.Topics)
	}
}
