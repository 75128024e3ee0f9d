package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"micromirror/internal/nodeconfig"
)

// capSysChroot is the one capability a node keeps: rsync sessions chroot
// into their module with it (see internal/rsyncd Spawn).
const capSysChroot = 18

// rootDrop is how a node started as root stops being root: it binds its
// ports, hands what it owns to cfg.User, then becomes that user with
// CAP_SYS_CHROOT alone (in its permitted, effective, inheritable and
// ambient sets, so rsync sessions inherit it). Nothing the node does for
// clients runs as root. Under the packaged systemd unit the node is never
// root (User=micromirror, the capabilities given by the unit); this is
// for nodes started by hand or by another init. nil when not root.
func rootDrop(cfg nodeconfig.Config) (func(sockets []string) error, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("started as root, the node binds its ports and then runs as user %s, "+
			"which does not exist: create it (the package does) or set user: in the config", cfg.User)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, fmt.Errorf("user %s is root: the node never serves as root", cfg.User)
	}
	return func(sockets []string) error {
		if err := handOver(cfg, uid, gid, sockets); err != nil {
			return err
		}
		return becomeUser(uid, gid)
	}, nil
}

// handOver gives the user what the node owns: the state dir and all in
// it, the data dir and each project's dir (not their contents: a tree
// synced as root must be handed over once by the operator, chown -R),
// the access log (made if missing) and its dir when the node made it or
// it lies in the state dir; the admin sockets.
func handOver(cfg nodeconfig.Config, uid, gid int, sockets []string) error {
	if err := filepath.WalkDir(cfg.StateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	dirs := []string{cfg.DataDir}
	for _, p := range cfg.Projects {
		d := filepath.Join(cfg.DataDir, p.URLPath())
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("data_dir: %w", err)
		}
		// The tree and every directory down to it from data_dir: the
		// project's own directory holds its extra files.
		for rel := p.URLPath(); rel != "."; rel = filepath.Dir(rel) {
			dirs = append(dirs, filepath.Join(cfg.DataDir, rel))
		}
	}
	if cfg.AccessLog != "" {
		// The file is made here if missing, and handed over; its
		// directory too when the node made it or it lies in state_dir
		// (logrotate, as root, makes the next file for the user).
		dir := filepath.Dir(cfg.AccessLog)
		if _, err := os.Stat(dir); os.IsNotExist(err) || strings.HasPrefix(dir, filepath.Clean(cfg.StateDir)+"/") {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("access_log: %w", err)
			}
			dirs = append(dirs, dir)
		}
		f, err := os.OpenFile(cfg.AccessLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("access_log: %w", err)
		}
		f.Close()
		dirs = append(dirs, cfg.AccessLog)
	}
	for _, p := range append(dirs, sockets...) {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// becomeUser switches every thread of the process to uid and gid, keeping
// CAP_SYS_CHROOT. Capabilities are per thread, so each step is made on all
// of them (the runtime's AllThreadsSyscall; Setuid and friends do it
// themselves).
func becomeUser(uid, gid int) error {
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); e != 0 {
		return fmt.Errorf("keep capabilities: %w", e)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0] = unix.CapUserData{Effective: 1 << capSysChroot, Permitted: 1 << capSysChroot, Inheritable: 1 << capSysChroot}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, capSysChroot); e != 0 {
		return fmt.Errorf("ambient CAP_SYS_CHROOT: %w", e)
	}
	if os.Geteuid() != uid || os.Getegid() != gid {
		return fmt.Errorf("still uid %d gid %d", os.Geteuid(), os.Getegid())
	}
	return nil
}
