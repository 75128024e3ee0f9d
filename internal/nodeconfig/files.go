package nodeconfig

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"micromirror/internal/yamlconf"
)

// Account is who will use a config's files: the node's user.
type Account struct {
	Name string
	UID  int
	GIDs []int // primary group first
	// RootStart: the node starts as root and hands its own dirs (data,
	// state, project dirs, the access log) to the account itself, so
	// those need only be reachable, not already the account's.
	RootStart bool
}

// AccountOf looks a user up, with its groups.
func AccountOf(name string) (Account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Account{}, err
	}
	return accountOfUser(u)
}

// CurrentAccount is the user running this process.
func CurrentAccount() (Account, error) {
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		return Account{Name: strconv.Itoa(os.Getuid()), UID: os.Getuid(), GIDs: []int{os.Getgid()}}, nil
	}
	return accountOfUser(u)
}

func accountOfUser(u *user.User) (Account, error) {
	a := Account{Name: u.Username}
	a.UID, _ = strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	a.GIDs = []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && g != gid {
				a.GIDs = append(a.GIDs, g)
			}
		}
	}
	return a, nil
}

// Access wanted of a path.
const (
	needRead  = 4
	needWrite = 2
	needExec  = 1
)

// CheckFiles checks what a valid config points at, as the account will
// use it: the data and state dirs (and each project's) usable, the access
// log writable, the files read at start (blocklist, certificate and key,
// tokens, passwords, CA files) readable. A config that validates can still
// fail at start on these; this says so first, naming each key.
func (c *Config) CheckFiles(a Account) []*yamlconf.FieldError {
	var errs []*yamlconf.FieldError
	bad := func(field, msg string) { errs = append(errs, &yamlconf.FieldError{Field: field, Msg: msg}) }
	dir := func(field, p string) {
		if msg := a.dirUsable(p); msg != "" {
			bad(field, msg)
		}
	}
	dir("data_dir", c.DataDir)
	dir("state_dir", c.StateDir)
	for i, p := range c.Projects {
		if d := filepath.Join(c.DataDir, p.URLPath()); d != c.DataDir {
			if msg := a.dirUsable(d); msg != "" {
				bad("projects["+strconv.Itoa(i)+"]", msg)
			}
		}
	}
	if c.AccessLog != "" {
		if msg := a.logWritable(c.AccessLog); msg != "" {
			bad("access_log", msg)
		}
	}
	for _, f := range []struct{ key, path string }{
		{"limits.blocklist", c.Limits.Blocklist},
		{"tls.cert_file", c.TLS.CertFile}, {"tls.key_file", c.TLS.KeyFile},
		{"telemetry.token_file", c.Telemetry.TokenFile}, {"telemetry.ca_file", c.Telemetry.CAFile},
		{"mqtt.password_file", c.MQTT.PasswordFile}, {"mqtt.ca_file", c.MQTT.CAFile},
	} {
		if f.path == "" {
			continue
		}
		if msg := a.fileReadable(f.path); msg != "" {
			bad(f.key, msg)
		}
	}
	if c.TLS.ACME != nil && c.TLS.ACME.CAFile != "" {
		if msg := a.fileReadable(c.TLS.ACME.CAFile); msg != "" {
			bad("tls.acme.ca_file", msg)
		}
	}
	return errs
}

// dirUsable: a directory the node writes in. A missing one is fine if
// the node can make it: as root it makes and hands it over; else its
// nearest existing parent must be the account's to write.
func (a Account) dirUsable(p string) string {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := nearestExisting(p)
		if msg := a.reach(parent); msg != "" {
			return msg
		}
		if !a.RootStart && !a.may(parent, needWrite|needExec) {
			return p + " does not exist, and " + a.Name + " cannot create it in " + parent
		}
		return ""
	case err != nil:
		return err.Error()
	case !fi.IsDir():
		return p + " is not a directory"
	}
	if msg := a.reach(filepath.Dir(p)); msg != "" {
		return msg
	}
	if !a.RootStart && !a.may(p, needWrite|needExec) {
		return p + " is not writable by " + a.Name + " (the node's user)"
	}
	return ""
}

// logWritable: the access log, or its dir when it is still to be made.
func (a Account) logWritable(p string) string {
	if _, err := os.Stat(p); err == nil {
		if msg := a.reach(filepath.Dir(p)); msg != "" {
			return msg
		}
		if !a.RootStart && !a.may(p, needWrite) {
			return p + " is not writable by " + a.Name
		}
		return ""
	}
	dir := filepath.Dir(p)
	if _, err := os.Stat(dir); err != nil {
		if a.RootStart {
			return a.reach(nearestExisting(dir)) // made and handed over at start
		}
		return "the directory " + dir + " does not exist"
	}
	if msg := a.reach(dir); msg != "" {
		return msg
	}
	if !a.RootStart && !a.may(dir, needWrite|needExec) {
		return a.Name + " cannot create " + p + " in " + dir
	}
	return ""
}

// fileReadable: a file read at start (and at reload, as the node's user).
func (a Account) fileReadable(p string) string {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return p + " does not exist"
	}
	if err != nil {
		return err.Error()
	}
	if fi.IsDir() {
		return p + " is a directory"
	}
	if msg := a.reach(filepath.Dir(p)); msg != "" {
		return msg
	}
	if !a.may(p, needRead) {
		return p + " is not readable by " + a.Name + " (the node's user)"
	}
	return ""
}

// reach: every directory down to dir may be entered by the account.
func (a Account) reach(dir string) string {
	dir = filepath.Clean(dir)
	for d := dir; ; d = filepath.Dir(d) {
		if !a.may(d, needExec) {
			return a.Name + " cannot enter " + d
		}
		if d == "/" || d == "." {
			return ""
		}
	}
}

// may reports whether the account has the access to p by its mode bits
// (owner, group, others; root may do anything).
func (a Account) may(p string, want uint32) bool {
	if a.UID == 0 {
		return true
	}
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := uint32(fi.Mode().Perm())
	switch {
	case int(st.Uid) == a.UID:
		return (mode>>6)&want == want
	case a.inGroup(int(st.Gid)):
		return (mode>>3)&want == want
	default:
		return mode&want == want
	}
}

func (a Account) inGroup(g int) bool {
	for _, x := range a.GIDs {
		if x == g {
			return true
		}
	}
	return false
}

func nearestExisting(p string) string {
	for d := filepath.Dir(filepath.Clean(p)); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == "/" || d == "." {
			return d
		}
	}
}
