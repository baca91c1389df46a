-- What the bot has learnt about AKOOL that every process and a restart must know (v3 create gone).

-- One row per fact, by name, with when it was first noted; a fact is never unlearnt here.
CREATE TABLE akool_facts (
    name     TEXT PRIMARY KEY,
    noted_at DOUBLE PRECISION NOT NULL
);
