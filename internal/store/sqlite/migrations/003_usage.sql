ALTER TABLE system ADD COLUMN clients INTEGER NOT NULL DEFAULT 0;
-- The most requested paths, summed per day.
CREATE TABLE top_paths (
  day_unix INTEGER NOT NULL,
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  path TEXT NOT NULL,
  requests INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (day_unix, node, project, path)
);
-- What each distro checker did on each node.
CREATE TABLE checker_visits (
  node TEXT NOT NULL,
  checker TEXT NOT NULL,
  last_unix INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  last_error_unix INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (node, checker)
);
