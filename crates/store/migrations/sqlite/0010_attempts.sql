-- Failed-credential throttling (brute-force protection), shared by every node: one row per
-- (kind, bucket) — e.g. ('login_account', 'alice'), ('login_ip', '203.0.113.7'),
-- ('client_ip', '198.51.100.2') — counting the attempts of the current window.
--
-- An attempt is reserved by one conditional UPSERT ... RETURNING before the credential is
-- checked, so concurrent requests cannot get more than the limit through. `locked_until` > 0
-- marks a lockout; `expires_at` is when the row stops mattering (the window's end, or the
-- lockout's), after which the next attempt starts afresh and the purge job deletes the row.
-- Nothing here is permanent: an attacker can delay an account, never lock it for good.
CREATE TABLE auth_attempts (
    kind         TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (kind, bucket)
);
CREATE INDEX auth_attempts_expiry ON auth_attempts (expires_at);
