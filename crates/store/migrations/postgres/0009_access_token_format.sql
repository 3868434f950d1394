-- What an app's access tokens look like: 'opaque' (a random string Doorway looks up; the
-- default, and what every existing app keeps) or 'jwt' (RFC 9068: signed with the key of the
-- app's id_token_alg, verifiable by a resource server on its own). client_credentials JWTs are
-- self-contained and not stored; the JWTs of a user's grant are stored under a keyed handle of
-- their jti, so revoking the grant still revokes them (see docs/operators.md).
ALTER TABLE clients ADD COLUMN access_token_format TEXT NOT NULL DEFAULT 'opaque'
    CHECK (access_token_format IN ('opaque', 'jwt'));
