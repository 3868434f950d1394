-- Fewer B-trees on the hot path. Each B-tree an insert enters is a page written to the WAL at
-- commit (4 KiB, checksummed): a code exchange wrote about twelve, a sign-in's code three.
--
-- access_tokens_code served no query: a replayed code revokes by family_id, which a token issued
-- from a code carries as its code's hash.
DROP INDEX access_tokens_code;

-- The purge deletes a refresh token once either of its expiries has passed: one index on the
-- earlier of the two serves it (the purge's WHERE names the same expression).
DROP INDEX refresh_tokens_idle_expiry;
DROP INDEX refresh_tokens_absolute_expiry;

-- Keyed by the hash itself (WITHOUT ROWID), as access tokens are since 0006: a row and its key
-- are one B-tree instead of two. Nothing references either table.
CREATE TABLE refresh_tokens_v2 (
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
) WITHOUT ROWID;
INSERT INTO refresh_tokens_v2 SELECT token_hash, family_id, client_id, user_id, scope, auth_time, sid, created_at,
    idle_expires_at, absolute_expires_at, rotated_at, revoked_at FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_v2 RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user_client ON refresh_tokens(user_id, client_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(min(idle_expires_at, absolute_expires_at));

CREATE TABLE authorization_codes_v2 (
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
    consumed_at       BIGINT,
    sid               TEXT
) WITHOUT ROWID;
INSERT INTO authorization_codes_v2 SELECT code_hash, client_id, user_id, redirect_uri, redirect_uri_sent, scope, nonce,
    code_challenge, auth_time, created_at, expires_at, consumed_at, sid FROM authorization_codes;
DROP TABLE authorization_codes;
ALTER TABLE authorization_codes_v2 RENAME TO authorization_codes;
CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);
