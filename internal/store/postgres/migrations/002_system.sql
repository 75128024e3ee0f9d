-- The node's machine at the end of each batch, for bandwidth and disk graphs.
CREATE TABLE system (
  node TEXT NOT NULL,
  end_unix BIGINT NOT NULL,
  net_rx BIGINT NOT NULL,
  net_tx BIGINT NOT NULL,
  load1 DOUBLE PRECISION NOT NULL,
  disk_free BIGINT NOT NULL,
  PRIMARY KEY (node, end_unix)
);
