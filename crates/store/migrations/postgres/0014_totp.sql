-- Two-factor sign-in with TOTP (RFC 6238) and single-use recovery codes.
--
-- totp_credentials: one per person. The shared secret is sealed with the server's sealing key
-- (label "totp:<user id>"), never stored in clear. `enabled_at` IS NULL while enrolment is
-- pending (a secret shown but not yet confirmed with a code): such a row never affects
-- sign-in. `last_step` is the last accepted time step: a code is accepted only by a
-- conditional UPDATE ... WHERE last_step < step, so a code (and any older one) can never be
-- used twice, even by two concurrent submissions (RFC 6238 §5.2).
CREATE TABLE totp_credentials (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    enabled_at    BIGINT,
    last_step     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Recovery codes: high-entropy (80-bit) random codes, stored as SHA-256 hashes; each is used
-- at most once (a DELETE that must remove exactly one row).
CREATE TABLE totp_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in whose password was right and whose second factor is still owed. Keyed by the
-- SHA-256 of a random id held in an HttpOnly cookie; it is not a session and signs nobody
-- in. It ends after a few minutes or after too many wrong codes (the password is then asked
-- again). `interaction` and `next` say where to go once the second factor is given.
CREATE TABLE second_factor_challenges (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    interaction TEXT,
    next        TEXT,
    failures    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX second_factor_challenges_expiry ON second_factor_challenges (expires_at);
CREATE INDEX second_factor_challenges_user ON second_factor_challenges (user_id);
