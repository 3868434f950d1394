-- Accounts and operators: what people see of their sessions and connected apps, and the
-- tokens of the admin API.

-- A session's device as last seen: the User-Agent and peer address of the most recent request,
-- refreshed at most once a minute (so a busy browser does not write on every request).
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;

-- When the user last signed in to the app (a code issued, or consent given). The connected-apps
-- page also counts the newest access token, so refreshes show as use.
ALTER TABLE consents ADD COLUMN last_used_at BIGINT;
UPDATE consents SET last_used_at = updated_at WHERE last_used_at IS NULL;

-- Admin API tokens (`doorway admin-tokens create`). Only the SHA-256 of the token is stored;
-- `id` is its public handle (list, revoke). A revoked token is kept for the audit trail.
CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    read_only    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- The admin API pages through users in creation order.
CREATE INDEX users_created ON users(created_at, id);
