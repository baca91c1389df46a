-- Credit caps sum the jobs of a rolling 24 hours, for the whole account and for one server.

-- The account's window: every job since a moment (and, read backwards, the recent jobs whose
-- credits give each kind of job its expected cost).
CREATE INDEX jobs_created ON jobs (created_at);
-- One server's window.
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at);
