//! The signing key set: loaded from the database at start-up, generated on first start, held
//! parsed in memory so the token endpoint never re-reads them.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use base64ct::{Base64, Encoding};
use doorway_core::jose::{MasterKey, SigningAlg, SigningKey};
use doorway_store::{Store, StoredKey};

/// The active key per algorithm, and every published public key.
#[derive(Debug)]
pub struct KeySet {
    active: HashMap<SigningAlg, SigningKey>,
    jwks: serde_json::Value,
}

impl KeySet {
    /// Loads the keys, generating an active key for every algorithm that has none.
    pub async fn load_or_generate(
        store: &Store,
        master: &MasterKey,
        now: i64,
    ) -> anyhow::Result<Self> {
        let mut stored = store.list_signing_keys().await?;
        for alg in SigningAlg::ALL {
            if !stored
                .iter()
                .any(|k| k.alg == alg.as_str() && k.status == "active")
            {
                let der = SigningKey::generate_pkcs8(alg)?;
                let key = SigningKey::from_pkcs8(alg, &der)?;
                let row = StoredKey {
                    kid: key.kid().to_owned(),
                    alg: alg.as_str().to_owned(),
                    private_key: master.seal(key.kid(), &der)?,
                    status: "active".into(),
                    created_at: now,
                };
                store.insert_signing_key(&row).await?;
                tracing::info!(
                    kid = key.kid(),
                    alg = alg.as_str(),
                    "generated a signing key"
                );
                stored.push(row);
            }
        }
        let mut active = HashMap::new();
        let mut public = Vec::new();
        for row in &stored {
            let alg = SigningAlg::parse(&row.alg)?;
            let der = master.open(&row.kid, &row.private_key).with_context(|| {
                format!("cannot open signing key {}: is DOORWAY_SECRET_KEY (or the key file) the one it was sealed with?", row.kid)
            })?;
            let key = SigningKey::from_pkcs8(alg, &der)?;
            public.push(serde_json::to_value(key.public_jwk())?);
            if row.status == "active" {
                // The newest active key of an algorithm signs.
                active.insert(alg, key);
            }
        }
        Ok(Self {
            active,
            jwks: serde_json::json!({ "keys": public }),
        })
    }

    pub fn signer(&self, alg: SigningAlg) -> Option<&SigningKey> {
        self.active.get(&alg)
    }

    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    pub fn algorithms(&self) -> Vec<&'static str> {
        SigningAlg::ALL
            .into_iter()
            .filter(|a| self.active.contains_key(a))
            .map(SigningAlg::as_str)
            .collect()
    }
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
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let bytes = Base64::decode_vec(text.trim())
            .ok()
            .filter(|b| b.len() == 32);
        let Some(bytes) = bytes else {
            bail!("{} is not a Doorway key file", path.display())
        };
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        return Ok(MasterKey::from_bytes(&key)?);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
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
