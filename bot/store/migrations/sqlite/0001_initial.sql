-- The job queue and the one-press-per-button ledger.

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    akool_id          TEXT    NOT NULL UNIQUE,
    kind              TEXT    NOT NULL CHECK (kind IN ('imagine', 'track', 'button')),
    requester_id      INTEGER NOT NULL,
    guild_id          INTEGER,
    channel_id        INTEGER NOT NULL,
    prompt            TEXT    NOT NULL DEFAULT '',
    scale             TEXT,
    source_image      TEXT,
    parent_akool_id   TEXT    REFERENCES jobs (akool_id),
    button            TEXT,
    status            TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    status_rank       INTEGER NOT NULL DEFAULT 1,
    image_url         TEXT,
    upscaled_urls     TEXT    NOT NULL DEFAULT '[]',
    buttons           TEXT    NOT NULL DEFAULT '[]',
    used_buttons      TEXT    NOT NULL DEFAULT '[]',
    credits           INTEGER,
    error             TEXT,
    delivery          TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (delivery IN ('pending', 'delivered', 'undeliverable')),
    status_message_id INTEGER,
    result_message_id INTEGER,
    created_at        REAL    NOT NULL,
    updated_at        REAL    NOT NULL,
    akool_created_at  REAL,
    finished_at       REAL,
    -- When the job loop should next look at the job; NULL once there is nothing left to do, so
    -- the partial index below holds only live jobs however long the history grows.
    due_at            REAL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT
) STRICT;

CREATE INDEX jobs_due ON jobs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX jobs_requester ON jobs (guild_id, requester_id, created_at);
CREATE INDEX jobs_parent ON jobs (parent_akool_id) WHERE parent_akool_id IS NOT NULL;

CREATE TABLE button_presses (
    parent_akool_id TEXT    NOT NULL REFERENCES jobs (akool_id),
    button          TEXT    NOT NULL,
    presser_id      INTEGER NOT NULL,
    pressed_at      REAL    NOT NULL,
    child_akool_id  TEXT,
    PRIMARY KEY (parent_akool_id, button)
) STRICT;
