CREATE TABLE batches (
  node TEXT NOT NULL,
  seq INTEGER NOT NULL,
  start_unix INTEGER NOT NULL,
  end_unix INTEGER NOT NULL,
  received_unix INTEGER NOT NULL,
  PRIMARY KEY (node, seq)
);
CREATE TABLE nodes (
  node TEXT PRIMARY KEY,
  last_seen_unix INTEGER NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  mqtt_connected INTEGER,
  disk_free INTEGER NOT NULL DEFAULT 0,
  disk_total INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0
);
-- Serving counters per node, project and minute (the batch's end minute).
CREATE TABLE traffic (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  minute_unix INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (node, project, minute_unix)
);
CREATE INDEX traffic_minute ON traffic (minute_unix);
CREATE TABLE syncs (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  started_unix INTEGER NOT NULL,
  seconds REAL NOT NULL,
  result TEXT NOT NULL,
  trigger TEXT NOT NULL DEFAULT '',
  bytes INTEGER NOT NULL,
  files INTEGER NOT NULL,
  PRIMARY KEY (node, project, started_unix)
);
CREATE TABLE project_state (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  last_success_unix INTEGER NOT NULL DEFAULT 0,
  last_result TEXT NOT NULL DEFAULT '',
  last_run_unix INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (node, project)
);
