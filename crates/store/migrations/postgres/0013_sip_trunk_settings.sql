-- How vox sip reaches a SIP trunk beyond its address and password (contracts::telephony::SipTrunk,
-- JSON): the digest username, whether it registers, an outbound proxy, the transport. NULL for
-- every other carrier.
ALTER TABLE carrier_accounts ADD COLUMN sip_trunk TEXT;
