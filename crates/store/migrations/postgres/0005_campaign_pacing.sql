-- The dialler's last pacing decision per campaign (one row each, overwritten every tick), for the console's live view.
CREATE TABLE campaign_pacing (
    campaign_id BIGINT PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    decision TEXT NOT NULL,
    decided_at BIGINT NOT NULL
);
