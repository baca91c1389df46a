-- Credit caps: a rolling 24 hours of jobs, and each kind's recent credits (its expected cost).

-- The window: every job since a moment, over every server.
CREATE INDEX jobs_created ON jobs (created_at);
-- The recent jobs of one kind (grid, upscale, variation) that reported credits, newest first:
-- the sample a job's expected cost is the median of. The expression is the store's, exactly.
CREATE INDEX jobs_cost_sample ON jobs (
    (CASE substr(button, 1, 1) WHEN 'U' THEN 'upscale' WHEN 'V' THEN 'variation' ELSE 'grid' END),
    created_at
) WHERE credits IS NOT NULL AND kind != 'track';
