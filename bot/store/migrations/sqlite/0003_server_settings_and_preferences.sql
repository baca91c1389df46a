-- Per-server settings (/settings) and per-member preferences (/notify).

CREATE TABLE guild_settings (
    guild_id   INTEGER PRIMARY KEY,
    settings   TEXT    NOT NULL,
    updated_at REAL    NOT NULL
) STRICT;

CREATE TABLE member_preferences (
    user_id    INTEGER PRIMARY KEY,
    dm_notify  INTEGER NOT NULL DEFAULT 0 CHECK (dm_notify IN (0, 1)),
    updated_at REAL    NOT NULL
) STRICT;

-- Fair-use counts: a member's jobs in a server by time, and the bot's unfinished jobs in line.
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status_rank < 3;
