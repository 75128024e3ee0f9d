-- Each alert's firing and resolve, queued for the webhook in the same
-- transaction that records it, sent in order and retried with backoff.
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  payload TEXT NOT NULL,
  created_unix INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', -- pending, delivered, failed (given up)
  attempts INTEGER NOT NULL DEFAULT 0,
  next_unix INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  done_unix INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_unix);
