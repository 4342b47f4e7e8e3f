-- The call log filtered by state, newest first, without sorting the whole state.
CREATE INDEX calls_by_state_id ON calls (state, id);
CREATE INDEX calls_by_outcome_id ON calls (outcome, id);
