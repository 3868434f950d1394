-- Doorway's core schema (SQLite). Times are Unix seconds. Secrets (passwords aside, which are
-- argon2id) are stored as SHA-256 hex: a copy of this database yields no usable token.

-- People with accounts. `sub` is the stable identifier apps see; usernames can change.
CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    sub                TEXT NOT NULL UNIQUE,
    username           TEXT NOT NULL,
    username_canonical TEXT NOT NULL UNIQUE,   -- lower-case: uniqueness ignores case
    email              TEXT NOT NULL,
    email_canonical    TEXT NOT NULL UNIQUE,
    email_verified     BOOLEAN NOT NULL DEFAULT FALSE,
    name               TEXT,
    avatar_url         TEXT,
    website            TEXT,
    password_hash      TEXT NOT NULL,          -- PHC string, argon2id
    is_admin           BOOLEAN NOT NULL DEFAULT FALSE,
    is_pro             BOOLEAN NOT NULL DEFAULT FALSE,
    can_pay            BOOLEAN NOT NULL DEFAULT FALSE,
    disabled           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

-- Registered OAuth apps. Public apps have no secret and must use PKCE.
CREATE TABLE clients (
    client_id       TEXT PRIMARY KEY,
    secret_hash     TEXT,                      -- SHA-256 of a 256-bit random secret
    kind            TEXT NOT NULL CHECK (kind IN ('confidential', 'public')),
    name            TEXT NOT NULL,
    homepage_url    TEXT,
    logo_uri        TEXT,
    redirect_uris   TEXT NOT NULL,             -- JSON array of strings, as registered
    redirect_policy TEXT NOT NULL CHECK (redirect_policy IN ('exact', 'origin')),
    scopes          TEXT NOT NULL,             -- space-separated, canonical order
    require_pkce    BOOLEAN NOT NULL DEFAULT FALSE,
    id_token_alg    TEXT NOT NULL DEFAULT 'RS256',
    owner_id        TEXT REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL
);

-- Browser sessions, server-side. The cookie holds a random id; only its hash is here.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- An authorization request waiting for the person to sign in or consent. The original
-- parameters are kept and validated again when the request resumes.
CREATE TABLE interactions (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    params     TEXT NOT NULL,                  -- JSON array of [name, value] pairs
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    login_at   BIGINT,                         -- set when the person signed in for this request
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Remembered consent, per user and app: the union of the scopes the user approved.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes: single use (consumed_at), bound to client, redirect URI and PKCE.
CREATE TABLE authorization_codes (
    code_hash         TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri      TEXT NOT NULL,
    redirect_uri_sent BOOLEAN NOT NULL,
    scope             TEXT NOT NULL,
    nonce             TEXT,
    code_challenge    TEXT,
    auth_time         BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    consumed_at       BIGINT
);

-- Opaque access tokens. code_hash links a token to the code it came from, so that a replayed
-- code revokes everything issued from it (RFC 6749 §4.1.2).
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    code_hash  TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_tokens_code ON access_tokens(code_hash);
CREATE INDEX access_tokens_user_client ON access_tokens(user_id, client_id);

-- Signing keys; the private half sealed (AES-256-GCM) under the operator's master key.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_key BLOB NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'retired')),
    created_at  BIGINT NOT NULL
);
