-- The disposition of a finished call, copied from its result for filtering and reports.
ALTER TABLE calls ADD COLUMN disposition TEXT;
CREATE INDEX calls_by_bot ON calls (bot_id, id);
