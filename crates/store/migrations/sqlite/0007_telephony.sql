-- The telephony edge: carrier accounts (their secret is write-only) and every carrier webhook, kept before it is acknowledged and unique per carrier call, event and sequence so a redelivery changes nothing.
CREATE TABLE carrier_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    carrier TEXT NOT NULL CHECK (carrier IN ('twilio', 'telnyx', 'plivo', 'vonage', 'exotel')),
    name TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    secret TEXT NOT NULL,
    api_url TEXT,
    numbers TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE telephony_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    carrier TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES carrier_accounts (id),
    call_id INTEGER REFERENCES calls (id),
    carrier_call_id TEXT NOT NULL,
    event TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    payload TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (carrier, carrier_call_id, event, sequence)
) STRICT;
CREATE INDEX telephony_events_by_call ON telephony_events (call_id, id);
CREATE INDEX calls_by_carrier_call ON calls (carrier_call_id);
