-- Email: the outbox of messages waiting for the SMTP server, and the single-use links sent in
-- them (verify an address, reset a password).
--
-- The outbox mirrors logout_deliveries: a node claims a due row for a while (locked_until),
-- sends it, and marks it sent, or failed with the next attempt time (backoff), so an outage of
-- the mail server loses nothing and two nodes never send the same message at once. Once sent,
-- the body is blanked: it held a live link. Sent and abandoned rows are purged after a week.
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT,
    status          TEXT NOT NULL,          -- pending, sent, failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_created ON email_outbox (created_at);

-- A link's token is 256 random bits; only its SHA-256 is stored, so a copy of the database
-- yields no working link. `email` is the address the link was sent to: for 'verify' it is the
-- address that becomes the account's (verified) address when the link is followed, for
-- 'reset' the address the account had. A token is used at most once (used_at) and expires.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,               -- verify, reset
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose, created_at);
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);
