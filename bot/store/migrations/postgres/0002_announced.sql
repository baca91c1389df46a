-- Whether a webhook said the job finished, kept through claims, so any process can tell.

-- The process whose poll finds a job finished counts whether its webhook had come first (to
-- trust webhooks); the webhook may have reached another process.
ALTER TABLE jobs ADD COLUMN announced BOOLEAN NOT NULL DEFAULT FALSE;
