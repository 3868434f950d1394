-- Token lifecycle (refresh, revocation, logout, device flow) and the signing-key lifecycle.

-- What an app may do, and where logout reaches it.
ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT 'authorization_code refresh_token';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';  -- JSON array
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;

-- A session's public identifier (the `sid` claim); the secret id stays hashed in id_hash.
ALTER TABLE sessions ADD COLUMN sid TEXT;

-- The session a code was issued in, carried into its tokens (back-channel logout, `sid`).
ALTER TABLE authorization_codes ADD COLUMN sid TEXT;

-- Every token of one grant shares a family: a replayed code or refresh token revokes it whole.
-- For tokens issued from a code, the family is the code's hash.
ALTER TABLE access_tokens ADD COLUMN family_id TEXT;
UPDATE access_tokens SET family_id = code_hash WHERE family_id IS NULL;
CREATE INDEX access_tokens_family ON access_tokens(family_id);

-- Refresh tokens, rotated at every use. A rotated-out token presented again outside the grace
-- window revokes its family (RFC 9700 §4.14.2).
CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY,
    family_id           TEXT NOT NULL,
    client_id           TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scope               TEXT NOT NULL,
    auth_time           BIGINT NOT NULL,
    sid                 TEXT,
    created_at          BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    rotated_at          BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user_client ON refresh_tokens(user_id, client_id);

-- Apps a session has signed in to, for back-channel logout.
CREATE TABLE session_clients (
    sid        TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- Logout tokens waiting for delivery (OIDC Back-Channel Logout): a durable outbox, retried
-- with backoff; `locked_until` lets one node claim a delivery at a time.
CREATE TABLE logout_deliveries (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    uri             TEXT NOT NULL,
    logout_token    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX logout_deliveries_due ON logout_deliveries(status, next_attempt_at);

-- Device authorization grant (RFC 8628).
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    auth_time        BIGINT,
    sid              TEXT,
    interval_secs    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);

-- Signing keys get a lifecycle: next (published, not signing) → active → retired (published
-- until what it signed has expired).
ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_status_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_status_check CHECK (status IN ('next', 'active', 'retired'));
ALTER TABLE signing_keys ADD COLUMN activated_at BIGINT;
ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT;
UPDATE signing_keys SET activated_at = created_at;
