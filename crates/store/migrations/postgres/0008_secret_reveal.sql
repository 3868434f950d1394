-- A client secret waiting for its one view in the developer console. Creating an app (or
-- rotating its secret) redirects to the app's page (Post/Redirect/Get, so a refresh does not
-- register the app twice); the page shows the secret once and deletes the row. Only the hash
-- of the one-time id in the URL is kept, the secret is sealed under the master key, and a row
-- nobody looked at is gone after ten minutes.
CREATE TABLE secret_reveals (
    id_hash    TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('created', 'rotated')),
    sealed     BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX secret_reveals_expiry ON secret_reveals (expires_at);
