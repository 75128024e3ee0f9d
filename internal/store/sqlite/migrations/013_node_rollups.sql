-- Traffic per node, all its projects together, per hour and per day,
-- written at ingest beside the per-project rows: a range by node or over
-- the whole fleet (a week of the fleet by the hour, the overview's
-- bandwidth, a sponsor page) reads one row per node and bucket instead of
-- one per project. The days are also read by node (a sponsor page reads
-- its node's whole history).
CREATE TABLE node_traffic_hour (
  node TEXT NOT NULL,
  hour_unix INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (hour_unix, node)
);
CREATE TABLE node_traffic_day (
  node TEXT NOT NULL,
  day_unix INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (day_unix, node)
);
CREATE INDEX node_traffic_day_node ON node_traffic_day (node, day_unix);
INSERT INTO node_traffic_hour (node, hour_unix, requests, bytes)
  SELECT node, hour_unix, SUM(requests), SUM(bytes) FROM traffic_hour GROUP BY 1, 2;
INSERT INTO node_traffic_day (node, day_unix, requests, bytes)
  SELECT node, day_unix, SUM(requests), SUM(bytes) FROM traffic_day GROUP BY 1, 2;
