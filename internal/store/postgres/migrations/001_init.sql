CREATE TABLE batches (
  node TEXT NOT NULL,
  seq BIGINT NOT NULL,
  start_unix BIGINT NOT NULL,
  end_unix BIGINT NOT NULL,
  received_unix BIGINT NOT NULL,
  PRIMARY KEY (node, seq)
);
CREATE TABLE nodes (
  node TEXT PRIMARY KEY,
  last_seen_unix BIGINT NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  mqtt_connected BOOLEAN,
  disk_free BIGINT NOT NULL DEFAULT 0,
  disk_total BIGINT NOT NULL DEFAULT 0,
  dropped BIGINT NOT NULL DEFAULT 0
);
-- Serving counters per node, project and minute (the batch's end minute).
CREATE TABLE traffic (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  minute_unix BIGINT NOT NULL,
  requests BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  PRIMARY KEY (node, project, minute_unix)
);
CREATE INDEX traffic_minute ON traffic (minute_unix);
CREATE TABLE syncs (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  started_unix BIGINT NOT NULL,
  seconds DOUBLE PRECISION NOT NULL,
  result TEXT NOT NULL,
  trigger TEXT NOT NULL DEFAULT '',
  bytes BIGINT NOT NULL,
  files BIGINT NOT NULL,
  PRIMARY KEY (node, project, started_unix)
);
CREATE TABLE project_state (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  last_success_unix BIGINT NOT NULL DEFAULT 0,
  last_result TEXT NOT NULL DEFAULT '',
  last_run_unix BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (node, project)
);
