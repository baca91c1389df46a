-- A press's intent names the claim it holds, and one process at a time answers a lost intent.

-- The claim (grid, button, moment) a press's intent holds: should the process die before the
-- press is answered, the restarted bot releases exactly that claim if AKOOL never used the
-- button, and never a later claim of the same button. NULL for /imagine and re-rolls.
ALTER TABLE create_intents ADD COLUMN parent_akool_id TEXT;
ALTER TABLE create_intents ADD COLUMN button TEXT;
ALTER TABLE create_intents ADD COLUMN pressed_at DOUBLE PRECISION;
-- Until when the process answering this lost intent holds it (no other process answers it
-- meanwhile); past it, another process may take it over. NULL: nobody has taken it up.
ALTER TABLE create_intents ADD COLUMN answering_until DOUBLE PRECISION;
