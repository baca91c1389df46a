-- v4 creates: which API made a job, the batch its image belongs to, and the member's options.

-- 'v3' (a grid) or 'v4' (one image of a createBySourcePrompt batch, or a tracked v4 image).
ALTER TABLE jobs ADD COLUMN api TEXT NOT NULL DEFAULT 'v3' CHECK (api IN ('v3', 'v4'));
-- Every image of a batch names the lead (its first image) and its 0-based place in it.
ALTER TABLE jobs ADD COLUMN batch_akool_id TEXT;
ALTER TABLE jobs ADD COLUMN batch_index INTEGER;
-- What the member asked for beyond prompt, aspect and image (JSON: count, resolution, ...).
ALTER TABLE jobs ADD COLUMN create_options TEXT;

CREATE INDEX jobs_batch ON jobs (batch_akool_id, batch_index) WHERE batch_akool_id IS NOT NULL;
