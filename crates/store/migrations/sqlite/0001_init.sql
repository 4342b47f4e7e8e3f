-- vox store schema, SQLite dialect (STRICT tables). Times are Unix epoch milliseconds (INTEGER) in both
-- dialects so one query text serves both backends; JSON documents are TEXT for the same reason.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE TABLE bots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE bot_versions (
    bot_id INTEGER NOT NULL REFERENCES bots (id),
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (bot_id, version)
) STRICT;

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    bot_id INTEGER NOT NULL REFERENCES bots (id),
    state TEXT NOT NULL CHECK (state IN ('draft', 'running', 'paused', 'completed')),
    calling_windows TEXT NOT NULL,
    max_attempts INTEGER NOT NULL CHECK (max_attempts > 0),
    concurrency_cap INTEGER NOT NULL CHECK (concurrency_cap > 0),
    weight INTEGER NOT NULL CHECK (weight > 0),
    abandon_target REAL NOT NULL,
    caller_id TEXT,
    settings TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
    phone TEXT NOT NULL,
    timezone TEXT NOT NULL,
    variables TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'leased', 'done')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    last_outcome TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (campaign_id, phone)
) STRICT;
CREATE INDEX contacts_due ON contacts (campaign_id, status, next_attempt_at, id);

CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'web')),
    campaign_id INTEGER REFERENCES campaigns (id),
    contact_id INTEGER REFERENCES contacts (id),
    bot_id INTEGER NOT NULL REFERENCES bots (id),
    bot_version INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    from_number TEXT,
    to_number TEXT,
    carrier_call_id TEXT,
    worker_id TEXT,
    lease_owner TEXT,
    created_at INTEGER NOT NULL,
    state_changed_at INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at INTEGER,
    result TEXT
) STRICT;
CREATE INDEX calls_by_state ON calls (state, state_changed_at);
CREATE INDEX calls_by_campaign ON calls (campaign_id, id);
CREATE INDEX calls_by_contact ON calls (contact_id);

CREATE TABLE call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id INTEGER NOT NULL REFERENCES calls (id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    outcome TEXT,
    detail TEXT,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX call_events_by_call ON call_events (call_id, id);

CREATE TABLE dnc (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_by INTEGER REFERENCES users (id),
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE crm_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id INTEGER NOT NULL REFERENCES calls (id),
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (call_id, target)
) STRICT;
CREATE INDEX crm_deliveries_due ON crm_deliveries (status, next_attempt_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    detail TEXT,
    at INTEGER NOT NULL
) STRICT;

CREATE TABLE dialler_leader (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    fencing_token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL
) STRICT;
