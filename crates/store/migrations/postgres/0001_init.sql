-- vox store schema, PostgreSQL dialect. Times are Unix epoch milliseconds (BIGINT) in both
-- dialects so one query text serves both backends; JSON documents are TEXT for the same reason.

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE bots (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE bot_versions (
    bot_id BIGINT NOT NULL REFERENCES bots (id),
    version BIGINT NOT NULL,
    spec TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (bot_id, version)
);

CREATE TABLE campaigns (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    bot_id BIGINT NOT NULL REFERENCES bots (id),
    state TEXT NOT NULL CHECK (state IN ('draft', 'running', 'paused', 'completed')),
    calling_windows TEXT NOT NULL,
    max_attempts BIGINT NOT NULL CHECK (max_attempts > 0),
    concurrency_cap BIGINT NOT NULL CHECK (concurrency_cap > 0),
    weight BIGINT NOT NULL CHECK (weight > 0),
    abandon_target DOUBLE PRECISION NOT NULL,
    caller_id TEXT,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE contacts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    phone TEXT NOT NULL,
    timezone TEXT NOT NULL,
    variables TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'leased', 'done')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    last_outcome TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (campaign_id, phone)
);
CREATE INDEX contacts_due ON contacts (campaign_id, status, next_attempt_at, id);

CREATE TABLE calls (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'web')),
    campaign_id BIGINT REFERENCES campaigns (id),
    contact_id BIGINT REFERENCES contacts (id),
    bot_id BIGINT NOT NULL REFERENCES bots (id),
    bot_version BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    from_number TEXT,
    to_number TEXT,
    carrier_call_id TEXT,
    worker_id TEXT,
    lease_owner TEXT,
    created_at BIGINT NOT NULL,
    state_changed_at BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at BIGINT,
    result TEXT
);
CREATE INDEX calls_by_state ON calls (state, state_changed_at);
CREATE INDEX calls_by_campaign ON calls (campaign_id, id);
CREATE INDEX calls_by_contact ON calls (contact_id);

CREATE TABLE call_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id BIGINT NOT NULL REFERENCES calls (id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    outcome TEXT,
    detail TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX call_events_by_call ON call_events (call_id, id);

CREATE TABLE dnc (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    updated_at BIGINT NOT NULL
);

CREATE TABLE crm_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id BIGINT NOT NULL REFERENCES calls (id),
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (call_id, target)
);
CREATE INDEX crm_deliveries_due ON crm_deliveries (status, next_attempt_at);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    detail TEXT,
    at BIGINT NOT NULL
);

CREATE TABLE dialler_leader (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    fencing_token BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL
);
