-- Cheaper token storage, and indexes for the purge job.
--
-- Access tokens are the most written rows; client_credentials tokens have no user, code or
-- family, yet entered three indexes with NULLs. Partial indexes hold only rows with a value
-- (queries compare these columns with `=`, which implies IS NOT NULL, so the indexes serve).
DROP INDEX access_tokens_code;
DROP INDEX access_tokens_family;
DROP INDEX access_tokens_user_client;
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
