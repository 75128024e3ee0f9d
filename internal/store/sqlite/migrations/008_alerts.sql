-- The alerts open now, so a restarted watchtower neither fires them
-- again nor forgets to resolve them.
CREATE TABLE alerts (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  node TEXT NOT NULL,
  project TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL,
  since_unix BIGINT NOT NULL
);
