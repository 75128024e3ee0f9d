-- The node's hardware as its last batch told it (JSON: telemetry.Health),
-- and per batch the figures charted and alerted on; NULL where the node
-- could not read them (missing, not zero).
ALTER TABLE nodes ADD COLUMN health TEXT NOT NULL DEFAULT '';
CREATE TABLE health_samples (
  node TEXT NOT NULL,
  end_unix INTEGER NOT NULL,
  max_temp_c REAL,
  disk_temp_c REAL,
  wear_percent REAL,
  clock_synced INTEGER,
  nic_errors INTEGER,
  PRIMARY KEY (node, end_unix)
);
