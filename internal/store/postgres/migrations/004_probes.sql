-- The watchtower's own checks of each node, as the distros' checkers do.
CREATE TABLE probes (
  node TEXT NOT NULL,
  scheme TEXT NOT NULL,
  at_unix BIGINT NOT NULL,
  ok BOOLEAN NOT NULL,
  latency_ms BIGINT NOT NULL,
  cert_expiry_unix BIGINT NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (node, scheme)
);
