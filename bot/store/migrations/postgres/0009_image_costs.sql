-- v4 credits: a v4 image is a cost kind of its own, and a create under way may be n v4 images.

-- The expected cost of a create under way: NULL for a v3 job, else the v4 order's image count.
ALTER TABLE create_intents ADD COLUMN images INTEGER CHECK (images IS NULL OR images > 0);

-- The recent jobs of one kind (grid, upscale, variation, image) that reported credits, newest
-- first: the sample a job's expected cost is the median of. The expression is the store's,
-- exactly (rows.job_cost_kind).
DROP INDEX jobs_cost_sample;
CREATE INDEX jobs_cost_sample ON jobs (
    (CASE WHEN api = 'v4' THEN 'image' ELSE
        CASE substr(button, 1, 1) WHEN 'U' THEN 'upscale' WHEN 'V' THEN 'variation' ELSE 'grid' END
     END),
    created_at
) WHERE credits IS NOT NULL AND kind <> 'track';
