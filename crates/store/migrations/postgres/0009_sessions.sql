-- Sessions a user had before this moment (ms) are refused: a password change or a sign-out ends them.
ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;
