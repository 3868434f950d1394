//! Private keys at rest are sealed with AES-256-GCM under the operator's master key, so a copy
//! of the database alone cannot sign tokens.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{digest, hmac};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sealed key is damaged or was sealed with another master key")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// The key that seals signing keys, and from which other server secrets are derived (so every
/// node that shares it agrees on them). Never printed.
pub struct MasterKey {
    aead: RandomizedNonceKey,
    derive: hmac::Key,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// From 32 random bytes (the generated key file).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SealError> {
        let aead = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::Seal)?;
        let derive = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        Ok(Self { aead, derive })
    }

    /// A 256-bit secret for `purpose`, derived from the master key (HMAC-SHA256 as a PRF), so
    /// every node sharing the master key agrees on it.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.derive, format!("doorway derived key v1\0{purpose}").as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// From an operator-supplied passphrase (`DOORWAY_SECRET_KEY`): its SHA-256 under a fixed
    /// label. The passphrase is expected to be long and random; it is not a password.
    pub fn from_passphrase(passphrase: &str) -> Result<Self, SealError> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"doorway signing-key seal v1\0");
        ctx.update(passphrase.as_bytes());
        let hash = ctx.finish();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(hash.as_ref());
        Self::from_bytes(&bytes)
    }

    /// `nonce || ciphertext || tag`, bound to `label` (the key id) as associated data.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut buffer = plaintext.to_vec();
        let nonce = self
            .aead
            .seal_in_place_append_tag(Aad::from(label.as_bytes()), &mut buffer)
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buffer);
        Ok(out)
    }

    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut buffer = ciphertext.to_vec();
        let plain =
            self.aead.open_in_place(nonce, Aad::from(label.as_bytes()), &mut buffer).map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_the_same_master_key_and_label() {
        let key = MasterKey::from_passphrase("correct horse battery staple").unwrap();
        let sealed = key.seal("kid-1", b"private").unwrap();
        assert_eq!(key.open("kid-1", &sealed).unwrap(), b"private");
        assert!(key.open("kid-2", &sealed).is_err());
        let other = MasterKey::from_passphrase("another").unwrap();
        assert!(other.open("kid-1", &sealed).is_err());
    }
}
