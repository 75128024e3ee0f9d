-- The node's machine at the end of each batch, for bandwidth and disk graphs.
CREATE TABLE system (
  node TEXT NOT NULL,
  end_unix INTEGER NOT NULL,
  net_rx INTEGER NOT NULL,
  net_tx INTEGER NOT NULL,
  load1 REAL NOT NULL,
  disk_free INTEGER NOT NULL,
  PRIMARY KEY (node, end_unix)
);
