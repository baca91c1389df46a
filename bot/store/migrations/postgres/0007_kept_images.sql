-- Where Discord keeps each job's images (its links expire): the bot's message and attachment.

-- One row per job and role ('source': the member's image it started from; 'result': its post).
CREATE TABLE kept_images (
    akool_id      TEXT             NOT NULL REFERENCES jobs (akool_id),
    role          TEXT             NOT NULL CHECK (role IN ('source', 'result')),
    channel_id    BIGINT           NOT NULL,
    message_id    BIGINT           NOT NULL,
    attachment_id BIGINT           NOT NULL,
    filename      TEXT             NOT NULL,
    kept_at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (akool_id, role)
);
