-- Wrong user codes entered on the /device page, per person (RFC 8628 §5.1: limit guessing).
-- Kept in the database, not in memory, so every node sees the same count; rows older than
-- the counting window are pruned whenever a person records a new one.
CREATE TABLE device_code_misses (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    missed_at BIGINT NOT NULL
);
CREATE INDEX device_code_misses_user ON device_code_misses(user_id, missed_at);
