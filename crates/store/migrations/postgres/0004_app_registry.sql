-- The self-service app registry (developer console, hosted-app provisioning).

-- What the consent page and the console show about an app. URLs are never fetched by Doorway.
ALTER TABLE clients ADD COLUMN description TEXT;
ALTER TABLE clients ADD COLUMN policy_uri TEXT;               -- privacy policy
ALTER TABLE clients ADD COLUMN tos_uri TEXT;                  -- terms of service

-- Set by an operator only: the app skips the consent screen (the operator vouches for it).
ALTER TABLE clients ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT FALSE;

-- Secret rotation with a grace period: the previous secret (SHA-256, like secret_hash) keeps
-- working until previous_secret_expires_at; both NULL when there is no grace.
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at BIGINT;

-- Hosted apps (`doorway apps provision`): lifetime of the access tokens issued to this app
-- (seconds; NULL = the server's default), and the organization whose members alone may sign
-- in (stored; not yet enforced).
ALTER TABLE clients ADD COLUMN access_token_ttl BIGINT;
ALTER TABLE clients ADD COLUMN authorized_org TEXT;

-- The console lists a developer's apps.
CREATE INDEX clients_owner ON clients(owner_id, created_at);
