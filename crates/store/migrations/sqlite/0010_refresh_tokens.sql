-- Refresh tokens are used once: a sign-in starts a family, each refresh replaces its token with
-- the next of the family, and a token used twice (a stolen copy) revokes the whole family.
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
