-- What a restarted bot needs to answer a command a crash interrupted: its interaction.

-- The interaction's webhook (the token is valid 15 minutes and a credential; it goes with the
-- row once the command is answered). NULL: the answer goes to the channel.
ALTER TABLE create_intents ADD COLUMN application_id BIGINT;
ALTER TABLE create_intents ADD COLUMN interaction_token TEXT;
-- 'edit': the command's "thinking" response becomes the answer; 'followup': a button, whose
-- original response is the grid itself, is answered with a follow-up message.
ALTER TABLE create_intents ADD COLUMN reply_by TEXT CHECK (reply_by IN ('edit', 'followup'));
-- When the bot began asking AKOOL for the job. NULL: AKOOL was never asked, so nothing was
-- started and nothing charged. Intents written before this migration were all being asked.
-- (Identity ids are never handed out twice, so a job's intent_id names one intent for good.)
ALTER TABLE create_intents ADD COLUMN akool_called_at DOUBLE PRECISION;
UPDATE create_intents SET akool_called_at = started_at;
