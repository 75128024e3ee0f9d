package node

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"micromirror/internal/accesslog"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/syncer"
)

// Reload applies a new config without dropping connections: pages,
// projects, limits, blocklist, certificates, access log. Listener changes
// need a restart and are reported.
func (n *Node) Reload(cfg nodeconfig.Config) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.cfg
	if keys := nodeconfig.RestartOnly(old, cfg); len(keys) > 0 {
		n.log.Warn("reload: these changes take effect at the next restart", "keys", keys)
	}
	var errs []error
	if _, err := n.blocklist.LoadFile(cfg.Limits.Blocklist); err != nil {
		errs = append(errs, err) // the old list stays in force
	}
	if n.certs != nil {
		if err := n.certs.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.reopenLog(old.AccessLog, cfg); err != nil {
		errs = append(errs, err)
	}
	prev := n.serving.Load()
	st, err := n.build(cfg, prev, old)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	n.serving.Store(st)
	if st.content != prev.content {
		// Requests in flight may still open files through the old trees.
		time.AfterFunc(cfg.Limits.ShutdownGrace.D()+time.Minute, prev.content.Close)
	}
	if err := n.setRsyncModules(cfg); err != nil {
		errs = append(errs, err)
	}
	if plans, _ := syncer.Plans(cfg); !reflect.DeepEqual(plans, n.plans) || !reflect.DeepEqual(cfg.Sync, old.Sync) {
		// Stopping a run is safe (delay-updates keeps the tree whole).
		// A project whose plan changed syncs by the new one at once (a
		// new source must show it works now, not at the next slot);
		// the others keep their schedules.
		n.log.Info("reload: sync plans changed, restarting the sync engine")
		before := n.plans
		n.engine.Close()
		n.startEngine(cfg)
		for _, p := range n.plans {
			i := slices.IndexFunc(before, func(b syncer.Plan) bool { return b.Name == p.Name })
			if i >= 0 && !reflect.DeepEqual(before[i], p) {
				n.engine.Trigger(p.Name, "reload")
			}
		}
	}
	if !reflect.DeepEqual(cfg.MQTT, old.MQTT) {
		if n.sub != nil {
			n.sub.Close()
			n.sub = nil
		}
		n.pushes.SetJitter(cfg.MQTT.Jitter.D())
		if err := n.startMQTT(cfg); err != nil {
			errs = append(errs, err)
		}
	}
	n.cfg = cfg
	n.log.Info("reloaded", "projects", len(cfg.Projects), "blocklist", n.blocklist.Len())
	return errors.Join(errs...)
}

// ownLogDir is the access log's directory when it lies in the node's
// own state tree: the node makes it, as it makes state_dir. A directory
// elsewhere (/var/log/...) is the host's to make (the package does).
func ownLogDir(cfg nodeconfig.Config) []string {
	if cfg.AccessLog == "" {
		return nil
	}
	dir := filepath.Dir(cfg.AccessLog)
	if strings.HasPrefix(dir, filepath.Clean(cfg.StateDir)+string(filepath.Separator)) {
		return []string{dir}
	}
	return nil
}

func (n *Node) reopenLog(oldPath string, cfg nodeconfig.Config) error {
	newPath := cfg.AccessLog
	if oldPath == newPath {
		return n.alog.Load().Reopen()
	}
	for _, d := range ownLogDir(cfg) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	l, err := accesslog.Open(newPath)
	if err != nil {
		return err
	}
	prev := n.alog.Swap(l)
	return prev.Close()
}
