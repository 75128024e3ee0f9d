-- The oldest last successful sync the node's own root page reported.
ALTER TABLE probes ADD COLUMN oldest_sync_unix BIGINT NOT NULL DEFAULT 0;
