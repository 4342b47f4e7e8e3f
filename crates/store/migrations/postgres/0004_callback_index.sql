-- Calls from a number in time order: the answering-machine report looks for callbacks after a machine verdict.
CREATE INDEX calls_by_from_number ON calls (from_number, created_at);
