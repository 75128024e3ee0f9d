-- Each alert's firing and resolve, queued for the webhook in the same
-- transaction that records it, sent in order and retried with backoff.
CREATE TABLE webhook_deliveries (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payload TEXT NOT NULL,
  created_unix BIGINT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', -- pending, delivered, failed (given up)
  attempts BIGINT NOT NULL DEFAULT 0,
  next_unix BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  done_unix BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_unix);
