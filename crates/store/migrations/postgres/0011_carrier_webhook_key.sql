-- A carrier account's webhook key, for carriers that verify webhooks with something other than the account's secret (Telnyx's Ed25519 public key, Vonage's signature secret); write-only like the secret.
ALTER TABLE carrier_accounts ADD COLUMN webhook_key TEXT;
