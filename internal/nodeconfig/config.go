// Package nodeconfig defines the node configuration file: its schema, its
// defaults, and the validation that names the key and line at fault.
package nodeconfig

import (
	"time"

	"micromirror/internal/yamlconf"
)

// Config is the whole configuration of one mirror node (`micromirror node`).
type Config struct {
	// Name is the node's public hostname, <sponsor-slug>.<fleet-domain>.
	Name    string  `yaml:"name"`
	Sponsor Sponsor `yaml:"sponsor"`
	// Contact is where users report problems: the fleet operator, never the
	// sponsor. An e-mail address or a URL.
	Contact string `yaml:"contact"`
	Fleet   Fleet  `yaml:"fleet"`

	// DataDir holds one served tree per project (data_dir/<project>/).
	DataDir string `yaml:"data_dir"`
	// StateDir holds locks, sync status, generated rsyncd.conf, ACME cache.
	StateDir string `yaml:"state_dir"`
	// User is the account a node started as root runs as once its ports
	// are bound (and its rsync sessions with it); the package creates
	// it. Nothing the node does for clients runs as root.
	User string `yaml:"user"`

	Listen Listen `yaml:"listen"`
	TLS    TLS    `yaml:"tls"`
	// DSCP marks every served connection: "cs1" (scavenger, default) or "none".
	DSCP string `yaml:"dscp"`

	Limits    Limits `yaml:"limits"`
	Cache     Cache  `yaml:"cache"`
	AccessLog string `yaml:"access_log"`
	// Upstream is the default rsync host projects sync from ("heavy iron").
	Upstream string `yaml:"upstream"`

	Sync      Sync      `yaml:"sync"`
	MQTT      MQTT      `yaml:"mqtt"`
	Telemetry Telemetry `yaml:"telemetry"`
	Projects  []Project `yaml:"projects"`
}

// Telemetry pushes the node's batches to the watchtower. Without a URL
// nothing is pushed (the admin /metrics still works).
type Telemetry struct {
	// URL is the watchtower's ingest endpoint (https://.../api/v1/ingest).
	URL string `yaml:"url"`
	// TokenFile holds this node's bearer token; never logged.
	TokenFile string `yaml:"token_file"`
	// CAFile trusts a private CA for the watchtower's certificate.
	CAFile   string            `yaml:"ca_file"`
	Interval yamlconf.Duration `yaml:"interval"`
	// SpoolMax bounds the batches kept while the watchtower is away.
	SpoolMax int `yaml:"spool_max"`
	// SmartDir holds the drives' smartctl reports, written as root by
	// micromirror-smart.timer (default /run/micromirror/smart).
	SmartDir string `yaml:"smart_dir"`
}

// MQTT is the node's subscription to upstream change announcements.
// Without a broker the node relies on its schedule alone.
type MQTT struct {
	// Broker is a tcp://, ssl://, ws:// or wss:// URL.
	Broker string `yaml:"broker"`
	// Topics are filters; default rsync/<upstream>/# (rsync/+/# without
	// an upstream).
	Topics       []string `yaml:"topics"`
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	CAFile       string   `yaml:"ca_file"`
	// ClientID names the persistent session; default the node name.
	ClientID string `yaml:"client_id"`
	// Jitter spreads trigger times; 0 (default) keeps the fleet in lockstep.
	Jitter yamlconf.Duration `yaml:"jitter"`
}

// Sync configures the sync engine node-wide; projects override bwlimit and
// schedule.
type Sync struct {
	// MaxConcurrent caps rsync runs at once on the node.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Bwlimit paces every transfer so the fleet moves in lockstep and the
	// upstream reads each file once for all.
	Bwlimit yamlconf.Bitrate `yaml:"bwlimit"`
	// Schedule is the fallback interval when no push arrives.
	Schedule yamlconf.Duration `yaml:"schedule"`
	// Timeout is rsync's --timeout (I/O silence); ConnectTimeout its
	// --contimeout.
	Timeout        yamlconf.Duration `yaml:"timeout"`
	ConnectTimeout yamlconf.Duration `yaml:"connect_timeout"`
	// StallTimeout kills a transfer whose progress has not moved this long.
	StallTimeout yamlconf.Duration `yaml:"stall_timeout"`
	// MaxDeletePercent refuses a run deleting more than this share of the
	// files; it also catches an empty or truncated upstream.
	MaxDeletePercent float64 `yaml:"max_delete_percent"`
	// ReservePercent of the disk must stay free after a run's new files.
	ReservePercent float64 `yaml:"reserve_percent"`
	// RetryMin and RetryMax bound the exponential backoff after transient
	// failures (connection lost, timeouts, stalls).
	RetryMin yamlconf.Duration `yaml:"retry_min"`
	RetryMax yamlconf.Duration `yaml:"retry_max"`
	// KeepLogs is how many per-run logs each project keeps.
	KeepLogs int `yaml:"keep_logs"`
	// Journal reads the upstream announcer's change journal and transfers
	// only the paths it lists; VerifyEvery is how often a full run still
	// compares the whole tree, to catch drift.
	Journal     bool              `yaml:"journal"`
	VerifyEvery yamlconf.Duration `yaml:"verify_every"`
}

// Sponsor is the network hosting the node; index pages credit it.
type Sponsor struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// Fleet describes the operator's fleet for the index page header.
type Fleet struct {
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	Donate string `yaml:"donate"`
}

// Listen lists the addresses of each listener. Empty lists disable it.
type Listen struct {
	HTTP  []string `yaml:"http"`
	HTTPS []string `yaml:"https"`
	Rsync []string `yaml:"rsync"`
	// Admin addresses must be loopback (host:port) or a unix socket path.
	Admin []string `yaml:"admin"`
}

// TLS configures certificates: files, or ACME.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	ACME     *ACME  `yaml:"acme"`
	// SelfSigned makes the node generate a certificate for Name at start:
	// for trials and for the first boot before the real one is in place.
	SelfSigned bool `yaml:"self_signed"`
}

// ACME obtains and renews certificates with HTTP-01 through the HTTP listener.
type ACME struct {
	Email     string `yaml:"email"`
	Directory string `yaml:"directory"`
	// CAFile trusts a private ACME server's certificate (step-ca, Pebble).
	CAFile string `yaml:"ca_file"`
	// Names are extra hostnames for the certificate besides Name.
	Names []string `yaml:"names"`
}

// Limits protects the node from overload and abuse.
type Limits struct {
	MaxConnections   int `yaml:"max_connections"`
	MaxRsyncSessions int `yaml:"max_rsync_sessions"`
	// MaxRsyncPerClient caps one client address's rsync connections.
	MaxRsyncPerClient int               `yaml:"max_rsync_per_client"`
	HeaderTimeout     yamlconf.Duration `yaml:"header_timeout"`
	IdleTimeout       yamlconf.Duration `yaml:"idle_timeout"`
	// KeepaliveRequests closes an HTTP/1.1 connection after this many
	// requests (nginx's keepalive_requests).
	KeepaliveRequests int `yaml:"keepalive_requests"`
	// SendTimeout drops a client that takes no bytes of a response for
	// this long (nginx's send_timeout); also the sockets' TCP_USER_TIMEOUT.
	SendTimeout       yamlconf.Duration `yaml:"send_timeout"`
	ShutdownGrace     yamlconf.Duration `yaml:"shutdown_grace"`
	Blocklist         string            `yaml:"blocklist"`
	RateLimit         Rate              `yaml:"rate_limit"`
	CheckerUserAgents []string          `yaml:"checker_user_agents"`
	// CheckerNetworks are the prefixes the distros' mirror checkers
	// come from: they are never rate-limited. A user agent is a claim
	// and exempts nobody.
	CheckerNetworks []string `yaml:"checker_networks"`
	// CheckerDomains exempt checkers whose address has a PTR name under
	// one of them that resolves back to it (forward-confirmed reverse
	// DNS), looked up when a client claims a checker's user agent.
	CheckerDomains []string `yaml:"checker_domains"`
}

// Cache keeps often requested files ready to answer: small ones in
// memory, larger ones open (sent by offset with sendfile). Every hit is
// checked against the file on disk.
type Cache struct {
	// Memory is what the bodies held in memory may take; 0 turns the
	// cache off.
	Memory yamlconf.ByteSize `yaml:"memory"`
	// MaxFile is the largest file held in memory; larger ones are kept
	// open instead.
	MaxFile yamlconf.ByteSize `yaml:"max_file"`
}

// Rate is an nginx limit_req style limit per client prefix (/24, /48).
type Rate struct {
	// PerSecond is the sustained request rate; 0 disables the limit.
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
	// Networks the limit applies to; empty with All false means nobody.
	Networks []string `yaml:"networks"`
	All      bool     `yaml:"all"`
}

// Project is one hosted project: a catalog name plus overrides.
type Project struct {
	Name string `yaml:"name"`
	// Path is the synced tree under data_dir and the URL prefix (default
	// Name); it may have several segments (layout.go).
	Path string `yaml:"path"`
	// Module and ModuleDir are the rsync module's name and the directory
	// it exposes (default: the path's first directory, for both).
	Module    string `yaml:"module"`
	ModuleDir string `yaml:"module_dir"`
	// UpstreamPath is the module and path on the upstream host (default
	// the catalog's); Source, a whole rsync URL, replaces host and path.
	UpstreamPath string `yaml:"upstream_path"`
	// ExtraFiles are single files pulled besides the tree after each
	// sync, each at the same path on the upstream and under data_dir.
	ExtraFiles []string          `yaml:"extra_files"`
	Source     string            `yaml:"source"`
	Triggers   []string          `yaml:"triggers"`
	Exclude    []string          `yaml:"exclude"`
	Bwlimit    yamlconf.Bitrate  `yaml:"bwlimit"`
	Schedule   yamlconf.Duration `yaml:"schedule"`

	// Recipe overrides; unset keeps the catalog's value.
	Stages            int      `yaml:"stages"` // 1 or 2
	FirstStageExclude []string `yaml:"first_stage_exclude"`
	DeleteExcluded    *bool    `yaml:"delete_excluded"`
	ChangeMarker      *string  `yaml:"change_marker"`
	UpstreamMarkers   []string `yaml:"upstream_markers"`
	TraceDir          *string  `yaml:"trace_dir"`
	Manifests         []string `yaml:"manifests"`
	// Journal turns the change journal off (or on) for this project.
	Journal *bool `yaml:"journal"`
	// FileList is the upstream's quick-fedora-mirror file list
	// (fullfiletimelist-rocky); "" for none.
	FileList *string `yaml:"file_list"`
}

// Default returns a configuration with every default filled in; Load decodes
// the file over it.
func Default() Config {
	return Config{
		Contact:  "",
		DataDir:  "/srv/mirror",
		StateDir: "/var/lib/micromirror",
		DSCP:     "cs1",
		User:     "micromirror",
		Fleet:    Fleet{Name: "micromirror"},
		Listen: Listen{
			HTTP:  []string{":80"},
			HTTPS: []string{":443"},
			Rsync: []string{":873"},
			Admin: []string{"127.0.0.1:9873"},
		},
		Telemetry: Telemetry{Interval: yamlconf.Dur(time.Minute), SpoolMax: 20160}, // two weeks of minutes
		Cache:     Cache{Memory: yamlconf.Bytes(32 << 20), MaxFile: yamlconf.Bytes(16 << 10)},
		Sync: Sync{
			MaxConcurrent:    2,
			Bwlimit:          yamlconf.Bits(200e6),
			Schedule:         yamlconf.Dur(24 * time.Hour),
			Timeout:          yamlconf.Dur(10 * time.Minute),
			ConnectTimeout:   yamlconf.Dur(60 * time.Second),
			StallTimeout:     yamlconf.Dur(15 * time.Minute),
			MaxDeletePercent: 10,
			ReservePercent:   5,
			RetryMin:         yamlconf.Dur(time.Minute),
			RetryMax:         yamlconf.Dur(time.Hour),
			KeepLogs:         20,
			Journal:          true,
			VerifyEvery:      yamlconf.Dur(24 * time.Hour),
		},
		Limits: Limits{
			MaxConnections:    4096,
			MaxRsyncSessions:  50,
			MaxRsyncPerClient: 4,
			HeaderTimeout:     yamlconf.Dur(10 * time.Second),
			IdleTimeout:       yamlconf.Dur(75 * time.Second),
			SendTimeout:       yamlconf.Dur(60 * time.Second),
			KeepaliveRequests: 1000,
			ShutdownGrace:     yamlconf.Dur(30 * time.Second),
			RateLimit:         Rate{PerSecond: 20, Burst: 100},
			CheckerUserAgents: []string{
				"archweb", "mirrormanager", "Launchpad Mirror Prober",
				"Launchpad-Prober", "Mirrorbits", "mirrorchecker",
			},
		},
	}
}
