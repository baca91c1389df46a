-- Remember each create before AKOOL is asked, so one lost to a crash is reported, not silent.

CREATE TABLE create_intents (
    id           INTEGER PRIMARY KEY,
    requester_id INTEGER NOT NULL,
    guild_id     INTEGER,
    channel_id   INTEGER NOT NULL,
    prompt       TEXT    NOT NULL,
    started_at   REAL    NOT NULL
) STRICT;

CREATE INDEX create_intents_started ON create_intents (started_at);

ALTER TABLE jobs ADD COLUMN intent_id INTEGER;
CREATE INDEX jobs_intent ON jobs (intent_id) WHERE intent_id IS NOT NULL;
