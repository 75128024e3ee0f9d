ALTER TABLE system ADD COLUMN clients BIGINT NOT NULL DEFAULT 0;
-- The most requested paths, summed per day.
CREATE TABLE top_paths (
  day_unix BIGINT NOT NULL,
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  path TEXT NOT NULL,
  requests BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  PRIMARY KEY (day_unix, node, project, path)
);
-- What each distro checker did on each node.
CREATE TABLE checker_visits (
  node TEXT NOT NULL,
  checker TEXT NOT NULL,
  last_unix BIGINT NOT NULL,
  requests BIGINT NOT NULL,
  errors BIGINT NOT NULL,
  last_error_unix BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (node, checker)
);
