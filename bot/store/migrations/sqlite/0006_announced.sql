-- Whether a webhook said the job finished, kept through claims, so any process can tell.

-- The process whose poll finds a job finished counts whether its webhook had come first (to
-- trust webhooks); with several processes, the webhook may have reached another one.
ALTER TABLE jobs ADD COLUMN announced INTEGER NOT NULL DEFAULT 0 CHECK (announced IN (0, 1));
