-- The node's hardware as its last batch told it (JSON: telemetry.Health),
-- and per batch the figures charted and alerted on; NULL where the node
-- could not read them (missing, not zero).
ALTER TABLE nodes ADD COLUMN health TEXT NOT NULL DEFAULT '';
CREATE TABLE health_samples (
  node TEXT NOT NULL,
  end_unix BIGINT NOT NULL,
  max_temp_c DOUBLE PRECISION,
  disk_temp_c DOUBLE PRECISION,
  wear_percent DOUBLE PRECISION,
  clock_synced BIGINT,
  nic_errors BIGINT,
  PRIMARY KEY (node, end_unix)
);
