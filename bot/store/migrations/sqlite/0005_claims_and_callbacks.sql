-- Claims on due jobs (shared with the PostgreSQL store) and the webhook replay ledger.

-- A tick holds the jobs it looks at until then; on SQLite one process owns the file, so every
-- hold is released when it opens.
ALTER TABLE jobs ADD COLUMN claimed_until REAL;
-- A webhook arrived while the job was held: look again as soon as it is released.
ALTER TABLE jobs ADD COLUMN woken INTEGER NOT NULL DEFAULT 0 CHECK (woken IN (0, 1));

-- Webhook callbacks already accepted, by signature: a replay is refused even after a restart.
CREATE TABLE webhook_callbacks (
    signature TEXT PRIMARY KEY,
    seen_at   REAL NOT NULL
) STRICT;

CREATE INDEX webhook_callbacks_seen ON webhook_callbacks (seen_at);
