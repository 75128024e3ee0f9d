-- The oldest last successful sync the node's own root page reported.
ALTER TABLE probes ADD COLUMN oldest_sync_unix INTEGER NOT NULL DEFAULT 0;
