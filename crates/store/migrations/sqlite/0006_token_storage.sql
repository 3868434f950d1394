-- Cheaper token storage, and indexes for the purge job.
--
-- Access tokens are the most written rows. Stored in a rowid table keyed by a 64-character hash,
-- each token went into two B-trees (the rows and the key's index) plus three secondary indexes
-- that client_credentials tokens entered with NULLs. Keyed by the hash itself (WITHOUT ROWID),
-- with partial indexes that hold only the rows that have a value, a token without a user or a
-- grant touches two B-trees: its row and the expiry index.
CREATE TABLE access_tokens_v2 (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    code_hash  TEXT,
    family_id  TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
) WITHOUT ROWID;
INSERT INTO access_tokens_v2 (token_hash, client_id, user_id, scope, code_hash, family_id, created_at, expires_at,
                              revoked_at)
    SELECT token_hash, client_id, user_id, scope, code_hash, family_id, created_at, expires_at, revoked_at
    FROM access_tokens;
DROP TABLE access_tokens;
ALTER TABLE access_tokens_v2 RENAME TO access_tokens;
-- Queries compare these columns with `=`, which implies IS NOT NULL: the partial indexes serve.
CREATE INDEX access_tokens_code ON access_tokens(code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX access_tokens_family ON access_tokens(family_id) WHERE family_id IS NOT NULL;
CREATE INDEX access_tokens_user_client ON access_tokens(user_id, client_id) WHERE user_id IS NOT NULL;
CREATE INDEX access_tokens_expiry ON access_tokens(expires_at);

-- The purge job deletes by expiry: without these it scanned whole tables every minute.
CREATE INDEX refresh_tokens_idle_expiry ON refresh_tokens(idle_expires_at);
CREATE INDEX refresh_tokens_absolute_expiry ON refresh_tokens(absolute_expires_at);
CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE INDEX interactions_expiry ON interactions(expires_at);
CREATE INDEX device_codes_expiry ON device_codes(expires_at);
