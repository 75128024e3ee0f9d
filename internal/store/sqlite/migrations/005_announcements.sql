-- The last change the upstream announced per module (MQTT).
CREATE TABLE announcements (
  module TEXT PRIMARY KEY,
  at_unix INTEGER NOT NULL,
  serial TEXT NOT NULL DEFAULT ''
);
