//! Signing keys at run time: the set in memory (parsed once, swapped atomically on change),
//! the lifecycle next → active → retired, and the master key file.
//!
//! Every node reloads the set from the database periodically, and a new key is published as
//! `next` for `key_publish_ahead` before it signs, so every node — and every client's JWKS
//! cache — knows it before the first token it signs arrives.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use base64ct::{Base64, Encoding};
use doorway_core::jose::{MasterKey, SigningAlg, SigningKey};
use doorway_store::{Store, StoredKey};
use jsonwebtoken::DecodingKey;

/// One consistent view of the keys.
pub struct KeySet {
    active: HashMap<SigningAlg, Arc<SigningKey>>,
    verifiers: HashMap<String, (SigningAlg, DecodingKey)>,
    jwks: Arc<str>,
    /// kid:status of every key, to skip re-parsing when nothing changed.
    fingerprint: String,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

impl KeySet {
    pub fn signer(&self, alg: SigningAlg) -> Option<Arc<SigningKey>> {
        self.active.get(&alg).cloned()
    }

    /// The public key of `kid` (next, active or retired), to verify tokens Doorway signed.
    pub fn verifier(&self, kid: &str) -> Option<&(SigningAlg, DecodingKey)> {
        self.verifiers.get(kid)
    }

    pub fn jwks(&self) -> Arc<str> {
        self.jwks.clone()
    }

    /// Verifies a token Doorway signed (an `id_token_hint`): signature by one of the published
    /// keys and `iss`. Expiry is deliberately not checked — an expired ID token is still a
    /// valid hint (OIDC Core §3.1.2.1, RP-Initiated Logout §2). Returns the claims.
    pub fn verify_own(&self, token: &str, issuer: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        doorway_core::jose::verify_issued(token, issuer, |kid| self.verifier(kid))
    }
}

fn fingerprint(rows: &[StoredKey]) -> String {
    rows.iter().map(|k| format!("{}:{};", k.kid, k.status)).collect()
}

/// The keys of this process: the current set and what maintains it.
pub struct Keys {
    current: RwLock<Arc<KeySet>>,
    master: MasterKey,
    /// Reloads run one at a time, each reading inside the lock: a reload that read earlier can
    /// never swap in its older view after a later one (the background job and an explicit
    /// reload may overlap).
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads the keys, generating an active key for every algorithm that has none (first start).
    pub async fn load(store: &Store, master: MasterKey, now: i64) -> anyhow::Result<Self> {
        let rows = store.list_signing_keys().await?;
        for alg in SigningAlg::ALL {
            if !rows.iter().any(|k| k.alg == alg.as_str() && k.status == "active") {
                match insert_new_key(store, &master, alg, "active", now).await {
                    Ok(_) => {}
                    // Another node starting on the same fresh database made it first (one
                    // active key per algorithm is a unique index): use theirs.
                    Err(err) if matches!(err.downcast_ref(), Some(doorway_store::StoreError::Conflict(_))) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        let rows = store.list_signing_keys().await?;
        let set = build(&master, &rows)?;
        Ok(Self { current: RwLock::new(Arc::new(set)), master, reloading: tokio::sync::Mutex::new(()) })
    }

    /// Seals a short-lived server-side secret (a console secret awaiting its one view) under
    /// the master key, bound to `label`; every node sharing the master key can open it.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, doorway_core::jose::SealError> {
        self.master.seal(label, plaintext)
    }

    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, doorway_core::jose::SealError> {
        self.master.open(label, sealed)
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the keys if they changed (another node or the CLI rotated them).
    pub async fn reload(&self, store: &Store) -> anyhow::Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let rows = store.list_signing_keys().await?;
        if fingerprint(&rows) == self.current().fingerprint {
            return Ok(());
        }
        let set = Arc::new(build(&self.master, &rows)?);
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        tracing::info!("signing keys reloaded");
        Ok(())
    }

    /// One pass of the lifecycle: activate `next` keys that have been published long enough,
    /// start a rotation when the active key is old, delete retired keys nothing valid was
    /// signed with. Safe to run on every node.
    pub async fn maintain(&self, store: &Store, policy: &KeyPolicy, now: i64) -> anyhow::Result<()> {
        let rows = store.list_signing_keys().await?;
        for alg in SigningAlg::ALL {
            let of_alg =
                |status: &'static str| rows.iter().filter(move |k| k.alg == alg.as_str() && k.status == status);
            // The newest next key: activating it supersedes any older pending one.
            if let Some(next) = of_alg("next").max_by_key(|k| k.created_at) {
                if now - next.created_at >= policy.publish_ahead
                    && store.activate_signing_key(&next.kid, alg.as_str(), now).await?
                {
                    tracing::info!(kid = %next.kid, alg = alg.as_str(), "signing key activated");
                }
                continue;
            }
            if policy.rotate_every <= 0 {
                continue;
            }
            let active = of_alg("active").max_by_key(|k| k.activated_at);
            let due = active.is_none_or(|k| now - k.activated_at.unwrap_or(k.created_at) >= policy.rotate_every);
            if due {
                let kid = insert_new_key(store, &self.master, alg, "next", now).await?;
                tracing::info!(%kid, alg = alg.as_str(), "scheduled rotation: next signing key published");
            }
        }
        // Runs every second on every node: write only when a retired key is due to go.
        let cutoff = now - policy.retired_lifetime;
        let expired = rows
            .iter()
            .any(|k| k.status == "retired" && k.retired_at.or(k.activated_at).unwrap_or(k.created_at) < cutoff);
        if expired {
            let deleted = store.delete_retired_keys(cutoff).await?;
            if deleted > 0 {
                tracing::info!(deleted, "retired signing keys removed from the JWKS");
            }
        }
        self.reload(store).await
    }

    /// `doorway keys rotate`: publish a next key per algorithm; with `now`, activate it at once.
    pub async fn rotate(
        store: &Store,
        master: &MasterKey,
        algs: &[SigningAlg],
        immediately: bool,
        now: i64,
    ) -> anyhow::Result<Vec<String>> {
        // A key sealed under another master key (the CLI run without the server's
        // DOORWAY_SECRET_KEY, say) would stop every node from loading the key set: refuse.
        build(master, &store.list_signing_keys().await?)?;
        let mut kids = Vec::new();
        for alg in algs {
            let kid = insert_new_key(store, master, *alg, "next", now).await?;
            if immediately {
                store.activate_signing_key(&kid, alg.as_str(), now).await?;
            }
            kids.push(kid);
        }
        Ok(kids)
    }
}

impl Keys {
    /// Rotation on demand by the running server (the admin API): [`Keys::rotate`] with this
    /// process's master key, then the new set loaded at once.
    pub async fn rotate_own(
        &self,
        store: &Store,
        algs: &[SigningAlg],
        immediately: bool,
        now: i64,
    ) -> anyhow::Result<Vec<String>> {
        let kids = Self::rotate(store, &self.master, algs, immediately, now).await?;
        self.reload(store).await?;
        Ok(kids)
    }
}

/// When keys move through their lifecycle.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// Age of the active key at which a next key is published; 0 disables automatic rotation.
    pub rotate_every: i64,
    /// How long a next key is published before it signs: longer than the JWKS cache
    /// (`max-age=300`) plus the reload interval, so relying parties know it in time.
    pub publish_ahead: i64,
    /// How long a retired key stays published: the longest lifetime of what it signed.
    pub retired_lifetime: i64,
}

impl KeyPolicy {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            rotate_every: config.key_rotation,
            publish_ahead: config.key_publish_ahead,
            // What a key signs lives at most access_token_ttl (ID tokens; logout tokens are
            // shorter); the margin covers nodes that sign with it until their next reload.
            retired_lifetime: config.access_token_ttl + 300,
        }
    }
}

async fn insert_new_key(
    store: &Store,
    master: &MasterKey,
    alg: SigningAlg,
    status: &str,
    now: i64,
) -> anyhow::Result<String> {
    let der = SigningKey::generate_pkcs8(alg)?;
    let key = SigningKey::from_pkcs8(alg, &der)?;
    let row = StoredKey {
        kid: key.kid().to_owned(),
        alg: alg.as_str().to_owned(),
        private_key: master.seal(key.kid(), &der)?,
        status: status.to_owned(),
        created_at: now,
        activated_at: (status == "active").then_some(now),
        retired_at: None,
    };
    store.insert_signing_key(&row).await?;
    tracing::info!(kid = key.kid(), alg = alg.as_str(), status, "generated a signing key");
    Ok(row.kid)
}

fn build(master: &MasterKey, rows: &[StoredKey]) -> anyhow::Result<KeySet> {
    let mut active: HashMap<SigningAlg, (i64, Arc<SigningKey>)> = HashMap::new();
    let mut verifiers = HashMap::new();
    let mut public = Vec::new();
    for row in rows {
        let alg = SigningAlg::parse(&row.alg)?;
        let der = master.open(&row.kid, &row.private_key).with_context(|| {
            format!(
                "cannot open signing key {}: is DOORWAY_SECRET_KEY (or the key file) the one it was sealed with?",
                row.kid
            )
        })?;
        let key = SigningKey::from_pkcs8(alg, &der)?;
        public.push(serde_json::to_value(key.public_jwk())?);
        let decoding = DecodingKey::from_jwk(key.public_jwk())?;
        verifiers.insert(row.kid.clone(), (alg, decoding));
        if row.status == "active" {
            // The most recently activated key of an algorithm signs.
            let since = row.activated_at.unwrap_or(row.created_at);
            if active.get(&alg).is_none_or(|(t, _)| since >= *t) {
                active.insert(alg, (since, Arc::new(key)));
            }
        }
    }
    let jwks = serde_json::to_string(&serde_json::json!({ "keys": public }))?;
    Ok(KeySet {
        active: active.into_iter().map(|(alg, (_, key))| (alg, key)).collect(),
        verifiers,
        jwks: Arc::from(jwks),
        fingerprint: fingerprint(rows),
    })
}

/// The master key: `DOORWAY_SECRET_KEY` when set, else `DATA_DIR/secret.key`, created with
/// mode 0600 on first start.
pub fn master_key(data_dir: &Path) -> anyhow::Result<MasterKey> {
    if let Ok(secret) = std::env::var("DOORWAY_SECRET_KEY") {
        if secret.len() < 32 {
            bail!("DOORWAY_SECRET_KEY must be at least 32 characters (use a long random string)");
        }
        return Ok(MasterKey::from_passphrase(&secret)?);
    }
    let path = data_dir.join("secret.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let bytes = Base64::decode_vec(text.trim()).ok().filter(|b| b.len() == 32);
        let Some(bytes) = bytes else { bail!("{} is not a Doorway key file", path.display()) };
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        return Ok(MasterKey::from_bytes(&key)?);
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let key = doorway_core::secrets::random_bytes::<32>();
    write_private_file(&path, &Base64::encode_string(&key))?;
    tracing::info!(path = %path.display(), "generated the key file that seals signing keys");
    Ok(MasterKey::from_bytes(&key)?)
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("creating {}", path.display()))
}
