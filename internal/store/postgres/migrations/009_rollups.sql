-- Traffic rolled up per hour and per day, written at ingest beside the
-- minute rows: a month's chart reads a few rows per node and project. The
-- minute rows older than the minute retention are deleted, no longer
-- summed into their hour's first minute. Keyed by time first: they are
-- read by time range, and one index less to keep at ingest.
CREATE TABLE traffic_hour (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  hour_unix BIGINT NOT NULL,
  requests BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  PRIMARY KEY (hour_unix, node, project)
);
CREATE TABLE traffic_day (
  node TEXT NOT NULL,
  project TEXT NOT NULL,
  day_unix BIGINT NOT NULL,
  requests BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  PRIMARY KEY (day_unix, node, project)
);
INSERT INTO traffic_hour (node, project, hour_unix, requests, bytes)
  SELECT node, project, minute_unix / 3600 * 3600, SUM(requests), SUM(bytes) FROM traffic GROUP BY 1, 2, 3;
INSERT INTO traffic_day (node, project, day_unix, requests, bytes)
  SELECT node, project, minute_unix / 86400 * 86400, SUM(requests), SUM(bytes) FROM traffic GROUP BY 1, 2, 3;
-- Failed runs since the last success, kept at ingest (the overview read
-- each project's last runs, a query per project).
ALTER TABLE project_state ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
UPDATE project_state SET failures = (SELECT COUNT(*) FROM syncs s WHERE s.node = project_state.node AND s.project = project_state.project
  AND s.started_unix > COALESCE((SELECT MAX(o.started_unix) FROM syncs o WHERE o.node = project_state.node AND o.project = project_state.project
    AND o.result IN ('success', 'success-vanished', 'unchanged')), -1));
