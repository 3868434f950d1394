-- At most one active signing key per algorithm, enforced by the database: nodes starting
-- together on a fresh database each try to create the first keys, and exactly one wins per
-- algorithm (the others re-read), so every node signs with, and publishes, the same key.
--
-- Databases from before this rule may hold several active keys of one algorithm (two nodes'
-- first start racing): the most recently activated stays active, the others retire (they stay
-- published until what they signed has expired).
UPDATE signing_keys SET status = 'retired', retired_at = COALESCE(activated_at, created_at)
WHERE status = 'active' AND EXISTS (
    SELECT 1 FROM signing_keys newer
    WHERE newer.alg = signing_keys.alg AND newer.status = 'active'
      AND (COALESCE(newer.activated_at, newer.created_at), newer.kid)
          > (COALESCE(signing_keys.activated_at, signing_keys.created_at), signing_keys.kid)
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE status = 'active';
