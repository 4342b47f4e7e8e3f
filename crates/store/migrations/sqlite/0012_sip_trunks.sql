-- no-transaction
-- SIP trunks (vox sip) are carrier accounts too: the carrier check admits 'sip'. SQLite cannot
-- change a CHECK in place, so the table is rebuilt as its docs say (lang_altertable.html,
-- "other kinds of table schema changes"): foreign keys off, a new table, the rows copied, the old
-- one dropped and the new one renamed, the keys checked, all in one transaction.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE carrier_accounts_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    carrier TEXT NOT NULL CHECK (carrier IN ('twilio', 'telnyx', 'plivo', 'vonage', 'exotel', 'sip')),
    name TEXT NOT NULL UNIQUE,
    account_sid TEXT NOT NULL,
    secret TEXT NOT NULL,
    api_url TEXT,
    numbers TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    webhook_key TEXT
) STRICT;
INSERT INTO carrier_accounts_new
    (id, carrier, name, account_sid, secret, api_url, numbers, created_at, updated_at, webhook_key)
    SELECT id, carrier, name, account_sid, secret, api_url, numbers, created_at, updated_at, webhook_key
    FROM carrier_accounts;
DROP TABLE carrier_accounts;
ALTER TABLE carrier_accounts_new RENAME TO carrier_accounts;
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
