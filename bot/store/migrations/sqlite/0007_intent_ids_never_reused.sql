-- Create intents get ids that are never reused, so a job naming an old intent cannot seem to fulfil a new one.

-- A job names its intent by id (jobs.intent_id). Without AUTOINCREMENT, SQLite hands the id of
-- the newest intent, once it is dropped, to the next one; a create then lost in a crash looked
-- fulfilled by the old job, was deleted unreported, and never counted against its member's
-- limits while under way. SQLite cannot add AUTOINCREMENT to a table, so it is built anew.
ALTER TABLE create_intents RENAME TO create_intents_reused_ids;
CREATE TABLE create_intents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    requester_id INTEGER NOT NULL,
    guild_id     INTEGER,
    channel_id   INTEGER NOT NULL,
    prompt       TEXT    NOT NULL,
    started_at   REAL    NOT NULL
) STRICT;
INSERT INTO create_intents (id, requester_id, guild_id, channel_id, prompt, started_at)
SELECT id, requester_id, guild_id, channel_id, prompt, started_at FROM create_intents_reused_ids;
DROP TABLE create_intents_reused_ids;
CREATE INDEX create_intents_started ON create_intents (started_at);

-- The next id is above every id a job already names.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'create_intents', 0
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'create_intents');
UPDATE sqlite_sequence
SET seq = MAX(seq, (SELECT COALESCE(MAX(intent_id), 0) FROM jobs))
WHERE name = 'create_intents';
