-- The poll schedule learns from the durations of the most recently finished jobs.

CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
