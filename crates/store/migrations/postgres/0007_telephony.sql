-- The telephony edge: carrier accounts (their secret is write-only) and every carrier webhook, kept before it is acknowledged and unique per carrier call, event and sequence so a redelivery changes nothing.
CREATE TABLE carrier_accounts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    carrier TEXT NOT NULL CHECK (carrier IN ('twilio', 'telnyx', 'plivo', 'vonage', 'exotel')),
    name TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    secret TEXT NOT NULL,
    api_url TEXT,
    numbers TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE telephony_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    carrier TEXT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES carrier_accounts (id),
    call_id BIGINT REFERENCES calls (id),
    carrier_call_id TEXT NOT NULL,
    event TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    payload TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (carrier, carrier_call_id, event, sequence)
);
CREATE INDEX telephony_events_by_call ON telephony_events (call_id, id);
CREATE INDEX calls_by_carrier_call ON calls (carrier_call_id);
