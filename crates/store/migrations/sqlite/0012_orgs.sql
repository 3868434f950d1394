-- Organizations (issue #7). An organization's name shares one namespace with usernames (both
-- are `<issuer>/<name>`): the store refuses an org name a user holds and a username an org holds.
-- `sub` is what apps see in the `orgs` claim, stable across renames, like a user's.
CREATE TABLE orgs (
    id             TEXT PRIMARY KEY,
    sub            TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    name_canonical TEXT NOT NULL UNIQUE,   -- lower-case, compared with users.username_canonical
    display_name   TEXT,
    avatar_url     TEXT,                   -- https only; NULL: a generated avatar
    is_enterprise  BOOLEAN NOT NULL DEFAULT FALSE,  -- Hugging Face's `isEnterprise`; set by operators
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Who belongs to which organization, and as what. An org always keeps at least one admin (the
-- store refuses to remove or demote the last one).
CREATE TABLE org_members (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'write', 'contributor', 'read')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

-- Invitations waiting for the invitee: nobody becomes a member (and appears in `orgs` claims)
-- without accepting.
CREATE TABLE org_invitations (
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'write', 'contributor', 'read')),
    invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_invitations_user ON org_invitations (user_id);

-- Which of their organizations a person lets an app see in detail (`roleInOrg`), chosen on the
-- consent page and changeable on the connected-apps page. Goes with the consent it belongs to.
CREATE TABLE consent_orgs (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id, org_id),
    FOREIGN KEY (user_id, client_id) REFERENCES consents (user_id, client_id) ON DELETE CASCADE
);
CREATE INDEX consent_orgs_org ON consent_orgs (org_id);
