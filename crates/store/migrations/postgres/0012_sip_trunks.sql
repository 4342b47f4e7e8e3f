-- SIP trunks (vox sip) are carrier accounts too: the carrier check admits 'sip'.
ALTER TABLE carrier_accounts DROP CONSTRAINT carrier_accounts_carrier_check;
ALTER TABLE carrier_accounts ADD CONSTRAINT carrier_accounts_carrier_check
    CHECK (carrier IN ('twilio', 'telnyx', 'plivo', 'vonage', 'exotel', 'sip'));
