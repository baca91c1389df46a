-- Where Discord keeps each job's images (its links expire): the bot's message and attachment.

-- One row per job and role ('source': the member's image it started from; 'result': its post).
CREATE TABLE kept_images (
    akool_id      TEXT    NOT NULL REFERENCES jobs (akool_id),
    role          TEXT    NOT NULL CHECK (role IN ('source', 'result')),
    channel_id    INTEGER NOT NULL,
    message_id    INTEGER NOT NULL,
    attachment_id INTEGER NOT NULL,
    filename      TEXT    NOT NULL,
    kept_at       REAL    NOT NULL,
    PRIMARY KEY (akool_id, role)
) STRICT;
