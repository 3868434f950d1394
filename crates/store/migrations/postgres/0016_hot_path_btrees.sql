-- Fewer indexes on the hot path (as on SQLite; PostgreSQL's tables are heaps with their primary
-- key's index, so there is no table to rebuild).
--
-- access_tokens_code served no query: a replayed code revokes by family_id, which a token issued
-- from a code carries as its code's hash.
DROP INDEX access_tokens_code;

-- The purge deletes a refresh token once either of its expiries has passed: one index on the
-- earlier of the two serves it (the purge's WHERE names the same expression).
DROP INDEX refresh_tokens_idle_expiry;
DROP INDEX refresh_tokens_absolute_expiry;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (LEAST(idle_expires_at, absolute_expires_at));
