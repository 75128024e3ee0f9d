package nodeconfig

import "reflect"

// RestartOnly names the keys whose change a reload (SIGHUP) cannot apply:
// they are read when the node's listeners, servers, rsync service or
// telemetry start. The node logs them on reload; fleet deploy restarts
// the node for them.
func RestartOnly(old, cfg Config) []string {
	var keys []string
	for _, k := range []struct {
		key      string
		was, now any
	}{
		{"name", old.Name, cfg.Name},
		{"listen.http", old.Listen.HTTP, cfg.Listen.HTTP},
		{"listen.https", old.Listen.HTTPS, cfg.Listen.HTTPS},
		{"listen.rsync", old.Listen.Rsync, cfg.Listen.Rsync},
		{"listen.admin", old.Listen.Admin, cfg.Listen.Admin},
		{"dscp", old.DSCP, cfg.DSCP},
		{"data_dir", old.DataDir, cfg.DataDir},
		{"state_dir", old.StateDir, cfg.StateDir},
		{"user", old.User, cfg.User},
		{"tls", old.TLS, cfg.TLS},
		{"limits.max_connections", old.Limits.MaxConnections, cfg.Limits.MaxConnections},
		{"limits.max_rsync_sessions", old.Limits.MaxRsyncSessions, cfg.Limits.MaxRsyncSessions},
		{"limits.max_rsync_per_client", old.Limits.MaxRsyncPerClient, cfg.Limits.MaxRsyncPerClient},
		{"limits.header_timeout", old.Limits.HeaderTimeout, cfg.Limits.HeaderTimeout},
		{"limits.idle_timeout", old.Limits.IdleTimeout, cfg.Limits.IdleTimeout},
		{"limits.send_timeout", old.Limits.SendTimeout, cfg.Limits.SendTimeout},
		{"limits.keepalive_requests", old.Limits.KeepaliveRequests, cfg.Limits.KeepaliveRequests},
		{"limits.shutdown_grace", old.Limits.ShutdownGrace, cfg.Limits.ShutdownGrace},
		{"telemetry", old.Telemetry, cfg.Telemetry},
	} {
		if !reflect.DeepEqual(k.was, k.now) {
			keys = append(keys, k.key)
		}
	}
	return keys
}
