-- Passkeys (WebAuthn, issue #7). A person registers several, each with a name; any of them signs
-- them in alone (a discoverable credential with user verification is two factors in itself).
-- `passkey` is webauthn-rs' serialized `Passkey` (public key, counter, backup state), rewritten
-- after every sign-in. `credential_id` (base64url) is unique across all accounts: WebAuthn
-- §7.1 step 22 requires refusing a credential id registered to anyone else.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    passkey       TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- Registration ceremonies between their start and their finish: the challenge and what
-- webauthn-rs needs to check the answer. Single use (the finish DELETEs it, RETURNING the state,
-- so a replayed finish finds nothing) and short (five minutes; the purge job sweeps leftovers).
-- Sign-in ceremonies are not stored at their (unauthenticated) start: their state travels sealed
-- in the browser, and only a verified finish writes a marker row here (purpose 'authenticate',
-- empty state) so the same ceremony cannot sign in twice. Only hashes of ceremony ids are kept.
CREATE TABLE passkey_ceremonies (
    id_hash    TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'authenticate')),
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,   -- registration: whose passkey
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
