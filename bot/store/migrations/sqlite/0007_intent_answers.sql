-- What a restarted bot needs to answer a command a crash interrupted; intent ids never reused.

-- A job names its intent by id (jobs.intent_id), so an id must never come back. Without
-- AUTOINCREMENT, SQLite gives the id of the newest intent, once dropped, to the next one, which
-- the job stored for the old one would then seem to fulfil. The table is made anew to have it.
CREATE TABLE create_intents_0007 (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    requester_id      INTEGER NOT NULL,
    guild_id          INTEGER,
    channel_id        INTEGER NOT NULL,
    prompt            TEXT    NOT NULL,
    started_at        REAL    NOT NULL,
    -- The interaction's webhook (the token is valid 15 minutes and a credential; it goes with
    -- the row once the command is answered). NULL: the answer goes to the channel.
    application_id    INTEGER,
    interaction_token TEXT,
    -- 'edit': the command's "thinking" response becomes the answer; 'followup': a button, whose
    -- original response is the grid itself, is answered with a follow-up message.
    reply_by          TEXT    CHECK (reply_by IN ('edit', 'followup')),
    -- When the bot began asking AKOOL for the job. NULL: AKOOL was never asked, so nothing was
    -- started and nothing charged.
    akool_called_at   REAL
) STRICT;

-- Intents written before this migration were all being asked of AKOOL.
INSERT INTO create_intents_0007 (
    id, requester_id, guild_id, channel_id, prompt, started_at, akool_called_at
)
SELECT id, requester_id, guild_id, channel_id, prompt, started_at, started_at
FROM create_intents;
DROP TABLE create_intents;
ALTER TABLE create_intents_0007 RENAME TO create_intents;
CREATE INDEX create_intents_started ON create_intents (started_at);

-- New ids start above every id a job already names.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'create_intents', 0
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'create_intents');
UPDATE sqlite_sequence
SET seq = MAX(seq, (SELECT COALESCE(MAX(intent_id), 0) FROM jobs))
WHERE name = 'create_intents';
