package rsyncd

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Spawn is how the node starts each rsync session. No session runs as
// root, and each stays confined to its module:
//   - with the capability to chroot (the node is root, or was given
//     CAP_SYS_CHROOT, as the packaged unit does), the session runs as an
//     unprivileged user with CAP_SYS_CHROOT alone raised for it, and
//     rsync chroots into the module: symlinks inside the tree work as
//     on a plain rsyncd, none leads out;
//   - without it (a node started by hand as a user), rsync serves
//     without a chroot, which is safe only with a daemon that opens
//     every path from the module's root without following symlinks:
//     rsync 3.4.3 and later (the fix of CVE-2026-29518); an older rsync
//     is refused. Symlinked directories in a requested path are then not
//     followed.
//
// Why not rsync's own "uid =" setting: rsync switches users only when it
// runs as root, so the node would have to start it as root, and a
// non-root daemon given "uid =" fails with "setgroups failed".
type Spawn struct {
	Cred   *syscall.Credential // nil: as the node itself
	Caps   []uintptr           // raised as ambient capabilities for the session
	Chroot bool
	// User names who the sessions run as, for the log.
	User string
}

const capSysChroot = 18 // CAP_SYS_CHROOT

// PlanSpawn decides how sessions run. runAs is the account for sessions
// when this process is root: a node in a test's process (a node started
// as root by hand drops to that user itself before it serves).
func PlanSpawn(runAs string) (Spawn, error) {
	if os.Geteuid() == 0 {
		if runAs == "" {
			runAs = "nobody"
		}
		u, err := user.Lookup(runAs)
		if err != nil {
			return Spawn{}, fmt.Errorf("rsync sessions run as %q (the node is root; set user: to another account): %w", runAs, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		if uid == 0 {
			return Spawn{}, fmt.Errorf("user %q is root: rsync sessions never run as root", runAs)
		}
		return Spawn{Cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
			Caps: []uintptr{capSysChroot}, Chroot: true, User: runAs}, nil
	}
	self := strconv.Itoa(os.Getuid())
	if u, err := user.LookupId(self); err == nil { // not user.Current: it caches, and the node may have dropped root
		self = u.Username
	}
	if hasPermittedCap(capSysChroot) {
		return Spawn{Caps: []uintptr{capSysChroot}, Chroot: true, User: self}, nil
	}
	v, err := rsyncVersion()
	if err != nil {
		return Spawn{}, err
	}
	if !atLeast(v, [3]int{3, 4, 3}) {
		return Spawn{}, fmt.Errorf("rsync %d.%d.%d cannot serve without a chroot safely (3.4.3 or later can); "+
			"run the node as root or with CAP_SYS_CHROOT (the packaged unit has it), or upgrade rsync", v[0], v[1], v[2])
	}
	return Spawn{User: self}, nil
}

// apply sets up a session's command.
func (p Spawn) apply(cmd *exec.Cmd) {
	if p.Cred == nil && len(p.Caps) == 0 {
		return
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.Cred, AmbientCaps: p.Caps}
}

// hasPermittedCap reports whether this process may use a capability (its
// permitted set, from /proc/self/status).
func hasPermittedCap(c uint) bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapPrm:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && bits&(1<<c) != 0
		}
	}
	return false
}

// rsyncVersion runs rsync --version.
func rsyncVersion() ([3]int, error) {
	out, err := exec.Command("rsync", "--version").Output()
	if err != nil {
		return [3]int{}, fmt.Errorf("rsync --version: %w", err)
	}
	return parseVersion(out)
}

// parseVersion reads "rsync  version 3.5.0  protocol version 32".
func parseVersion(out []byte) ([3]int, error) {
	var v [3]int
	line, _, _ := bytes.Cut(out, []byte("\n"))
	f := strings.Fields(string(line))
	for i := 0; i+1 < len(f); i++ {
		if f[i] != "version" {
			continue
		}
		parts := strings.SplitN(f[i+1], ".", 3)
		for j, p := range parts {
			digits := len(p) - len(strings.TrimLeft(p, "0123456789"))
			n, err := strconv.Atoi(p[:digits]) // "7pre1": 7
			if err != nil {
				return v, fmt.Errorf("rsync version %q", f[i+1])
			}
			v[j] = n
		}
		return v, nil
	}
	return v, fmt.Errorf("no version in %q", line)
}

func atLeast(v, min [3]int) bool {
	for i := range v {
		if v[i] != min[i] {
			return v[i] > min[i]
		}
	}
	return true
}
