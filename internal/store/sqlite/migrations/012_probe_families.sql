-- Probes per address family: a node is checked over IPv4 and IPv6 apart,
-- as the distros' checkers do. The rows of the old key are the latest
-- probes only; the next round (minutes) writes them again.
DROP TABLE probes;
CREATE TABLE probes (
  node TEXT NOT NULL,
  scheme TEXT NOT NULL,
  family TEXT NOT NULL,
  at_unix INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL,
  cert_expiry_unix INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  oldest_sync_unix INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (node, scheme, family)
);
-- The sync history is read by node and time and expired by time.
CREATE INDEX syncs_started ON syncs (started_unix);
