-- The security log: sign-ins and their failures, lockouts, password changes, consents, apps'
-- secrets, admin API writes, ended sessions. Append-only; entries older than the retention
-- (`--audit-retention`) are purged. `user_id` is the account an entry concerns (the person
-- sees it under /settings/security-log); the actor is that person, an admin API token, or
-- nobody (an anonymous failed sign-in). No foreign keys: the log outlives what it mentions.
-- `detail` is a small JSON object and never holds a secret (no passwords, tokens, secrets).
-- `id` sorts by time (microseconds, then randomness), so pages are id ranges.
CREATE TABLE audit_events (
    id             TEXT PRIMARY KEY,
    at             INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    user_id        TEXT,
    actor_user_id  TEXT,
    actor_token_id TEXT,
    client_id      TEXT,
    ip             TEXT,
    user_agent     TEXT,
    detail         TEXT NOT NULL
);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_kind ON audit_events (kind, id);
CREATE INDEX audit_events_at ON audit_events (at);
