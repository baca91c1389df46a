-- The whole schema as SQLite's migrations 0001-0005 left it, for PostgreSQL.

CREATE TABLE jobs (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    akool_id          TEXT    NOT NULL UNIQUE,
    kind              TEXT    NOT NULL CHECK (kind IN ('imagine', 'track', 'button')),
    requester_id      BIGINT  NOT NULL,
    guild_id          BIGINT,
    channel_id        BIGINT  NOT NULL,
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
    status_message_id BIGINT,
    result_message_id BIGINT,
    created_at        DOUBLE PRECISION NOT NULL,
    updated_at        DOUBLE PRECISION NOT NULL,
    akool_created_at  DOUBLE PRECISION,
    finished_at       DOUBLE PRECISION,
    -- When the job loop should next look at the job; NULL once there is nothing left to do.
    due_at            DOUBLE PRECISION,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    intent_id         BIGINT,
    -- A process looking at the job holds it until then; a dead process's hold simply runs out.
    claimed_until     DOUBLE PRECISION,
    -- A webhook arrived while the job was held: look again as soon as it is released.
    woken             BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX jobs_due ON jobs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX jobs_requester ON jobs (guild_id, requester_id, created_at);
CREATE INDEX jobs_parent ON jobs (parent_akool_id) WHERE parent_akool_id IS NOT NULL;
CREATE INDEX jobs_intent ON jobs (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX jobs_unfinished ON jobs (created_at) WHERE status_rank < 3;
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE button_presses (
    parent_akool_id TEXT    NOT NULL REFERENCES jobs (akool_id),
    button          TEXT    NOT NULL,
    presser_id      BIGINT  NOT NULL,
    pressed_at      DOUBLE PRECISION NOT NULL,
    child_akool_id  TEXT,
    PRIMARY KEY (parent_akool_id, button)
);

CREATE TABLE create_intents (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requester_id BIGINT NOT NULL,
    guild_id     BIGINT,
    channel_id   BIGINT NOT NULL,
    prompt       TEXT   NOT NULL,
    started_at   DOUBLE PRECISION NOT NULL
);

CREATE INDEX create_intents_started ON create_intents (started_at);

CREATE TABLE guild_settings (
    guild_id   BIGINT PRIMARY KEY,
    settings   TEXT   NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE member_preferences (
    user_id    BIGINT  PRIMARY KEY,
    dm_notify  BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at DOUBLE PRECISION NOT NULL
);

-- Webhook callbacks already accepted, by signature, so a replay is refused by every process.
CREATE TABLE webhook_callbacks (
    signature TEXT PRIMARY KEY,
    seen_at   DOUBLE PRECISION NOT NULL
);

CREATE INDEX webhook_callbacks_seen ON webhook_callbacks (seen_at);

-- The AKOOL request budget every process draws from: the theoretical arrival time of the next
-- request (GCRA), in seconds on the database's clock.
CREATE TABLE request_budgets (
    name TEXT PRIMARY KEY,
    tat  DOUBLE PRECISION NOT NULL
);
