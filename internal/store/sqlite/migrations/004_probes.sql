-- The watchtower's own checks of each node, as the distros' checkers do.
CREATE TABLE probes (
  node TEXT NOT NULL,
  scheme TEXT NOT NULL,
  at_unix INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL,
  cert_expiry_unix INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (node, scheme)
);
