package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Host is one machine the rollout logs into with the system ssh, as the
// operator does: their keys, their agent, their ~/.ssh/config (or the
// file given with -ssh-config). Commands run with sh -c, through sudo -n
// for a login that is not root.
type Host struct {
	Target    string // ssh destination: host, user@host or a config alias
	SSHConfig string // -F FILE; empty: ssh's own default
	Sudo      bool
	// ControlDir holds a master connection per host, so the rollout's
	// many commands share one login (ssh ControlMaster).
	ControlDir string
}

// sshArgs are the options every connection gets: no prompts (a rollout
// runs unattended), and a bound on a host that does not answer.
func (h Host) sshArgs() []string {
	args := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"}
	if h.ControlDir != "" {
		args = append(args, "-o", "ControlMaster=auto", "-o", "ControlPath="+h.ControlDir+"/%C", "-o", "ControlPersist=60")
	}
	if h.SSHConfig != "" {
		args = append([]string{"-F", h.SSHConfig}, args...)
	}
	return args
}

// Run runs a shell script on the host, with stdin, and returns its
// output; the error says the command and its stderr.
func (h Host) Run(ctx context.Context, script string, stdin io.Reader) (string, error) {
	remote := "sh -c " + q(script)
	if h.Sudo {
		remote = "sudo -n " + remote
	}
	cmd := exec.CommandContext(ctx, "ssh", append(h.sshArgs(), "--", h.Target, remote)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if err := cmd.Run(); err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(script), "\n")
		return out.String(), fmt.Errorf("%s: %q: %v: %s", h.Target, first, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// closeMaster ends the host's master connection, if there is one.
func (h Host) closeMaster() {
	if h.ControlDir != "" {
		exec.Command("ssh", append(h.sshArgs(), "-O", "exit", h.Target)...).Run()
	}
}

// Upload copies a local directory's contents into a directory on the
// host with the system rsync over the same ssh.
func (h Host) Upload(ctx context.Context, local, remote string) error {
	e := "ssh " + strings.Join(quoteAll(h.sshArgs()), " ")
	args := []string{"-rlpt", "--delete", "-e", e}
	if h.Sudo {
		args = append(args, "--rsync-path=sudo -n rsync")
	}
	args = append(args, strings.TrimSuffix(local, "/")+"/", h.Target+":"+remote+"/")
	out, err := exec.CommandContext(ctx, "rsync", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: upload to %s: %v: %s", h.Target, remote, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// q quotes s as one word of sh.
func q(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = q(s)
	}
	return out
}
