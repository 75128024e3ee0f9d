package inventory

import (
	"strings"
)

// Deploy says how `micromirror fleet deploy` reaches the fleet's hosts
// and what it runs there: over SSH with the operator's own ssh and
// ~/.ssh/config, as the user the SSH login gives (root, or one with
// password-less sudo: Sudo). Commands run with sh -c; {config_dir} is
// replaced by ConfigDir.
type Deploy struct {
	// ConfigDir is where a node's node.yaml and secrets/ go.
	ConfigDir string `yaml:"config_dir"`
	// Micromirror is the command on the host (node -check, node status).
	Micromirror string `yaml:"micromirror"`
	// Reload applies a new config to the running node (SIGHUP); Restart
	// starts it anew, for what a reload cannot apply (listen, user...).
	Reload  string `yaml:"reload"`
	Restart string `yaml:"restart"`
	// Install installs a package file, whose path is appended.
	Install string `yaml:"install"`
	// Sudo runs every command through sudo -n (a login that is not root).
	Sudo bool `yaml:"sudo"`
	// Watchtower and Announce receive the watchtower's node list and the
	// announcer's module list.
	Watchtower *DeployFile `yaml:"watchtower"`
	Announce   *DeployFile `yaml:"announce"`
}

// DeployFile is one rendered file for one host.
type DeployFile struct {
	SSH    string `yaml:"ssh"`    // the SSH destination (a host or ~/.ssh/config alias)
	Path   string `yaml:"path"`   // where the file goes
	Reload string `yaml:"reload"` // what makes the service reread it
	// Health is an http(s) URL the operator's side fetches after the
	// reload (the watchtower's /healthz); empty: none.
	Health string `yaml:"health"`
}

// DefaultDeploy is a node installed from the package under systemd.
func DefaultDeploy() Deploy {
	return Deploy{
		ConfigDir:   "/etc/micromirror",
		Micromirror: "micromirror",
		Reload:      "systemctl reload micromirror-node",
		Restart:     "systemctl restart micromirror-node",
		// apt-get takes the package's dependencies (rsync) from the
		// host's sources, so a bare host installs as well as an upgrade;
		// not what they recommend (logrotate's would bring a mail
		// server); confold keeps the operator's edits of the conffiles.
		Install: "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold",
	}
}

// DeployFor is the fleet's deploy settings with a node's own over them.
func (f *Fleet) DeployFor(n *Node) Deploy {
	d := DefaultDeploy()
	for _, o := range []*Deploy{f.Deploy, n.Deploy} {
		if o == nil {
			continue
		}
		for dst, src := range map[*string]string{&d.ConfigDir: o.ConfigDir, &d.Micromirror: o.Micromirror,
			&d.Reload: o.Reload, &d.Restart: o.Restart, &d.Install: o.Install} {
			if src != "" {
				*dst = src
			}
		}
		d.Sudo = d.Sudo || o.Sudo
		if o.Watchtower != nil {
			d.Watchtower = o.Watchtower
		}
		if o.Announce != nil {
			d.Announce = o.Announce
		}
	}
	return d
}

// SSHTarget is where fleet deploy logs in for a node: its ssh key, or its
// name.
func (n *Node) SSHTarget() string {
	if n.SSH != "" {
		return n.SSH
	}
	return n.Name
}

// Command is a deploy command with its placeholders filled in.
func (d Deploy) Command(c string) string {
	return strings.ReplaceAll(c, "{config_dir}", d.ConfigDir)
}

// validateDeploy checks deploy settings found at field (deploy or
// nodes[i].deploy).
func validateDeploy(d *Deploy, field string, bad reporter) {
	if d == nil {
		return
	}
	if d.ConfigDir != "" && !strings.HasPrefix(d.ConfigDir, "/") {
		bad(field+".config_dir", "%q: an absolute path on the host", d.ConfigDir)
	}
	for key, t := range map[string]*DeployFile{"watchtower": d.Watchtower, "announce": d.Announce} {
		if t == nil {
			continue
		}
		switch {
		case t.SSH == "":
			bad(field+"."+key+".ssh", "required: the host that receives the file (a name, user@host or an ~/.ssh/config alias)")
		case !strings.HasPrefix(t.Path, "/"):
			bad(field+"."+key+".path", "%q: an absolute path on the host", t.Path)
		case t.Reload == "":
			bad(field+"."+key+".reload", "required: the command that makes the service reread the file")
		}
	}
}
