//! The JOSE crypto provider: jsonwebtoken's aws-lc-rs provider, except that signing keys are
//! parsed once and kept. jsonwebtoken parses the private key on every `encode` (an RSA key
//! costs more to parse than to sign with); the JWS itself is still built by jsonwebtoken.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{Error as SignatureError, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

/// A private key, parsed.
enum Parsed {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct CachedSigner {
    alg: Algorithm,
    key: Arc<Parsed>,
}

impl Signer<Vec<u8>> for CachedSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        let rng = SystemRandom::new();
        match (&*self.key, self.alg) {
            (Parsed::Rsa(pair), Algorithm::RS256 | Algorithm::PS256) => {
                let padding: &'static dyn sig::RsaEncoding =
                    if self.alg == Algorithm::RS256 { &sig::RSA_PKCS1_SHA256 } else { &sig::RSA_PSS_SHA256 };
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut signature).map_err(SignatureError::from_source)?;
                Ok(signature)
            }
            (Parsed::Ec(pair), Algorithm::ES256) => {
                pair.sign(&rng, message).map(|s| s.as_ref().to_vec()).map_err(SignatureError::from_source)
            }
            (Parsed::Ed(pair), Algorithm::EdDSA) => Ok(pair.sign(message).as_ref().to_vec()),
            _ => Err(SignatureError::new()),
        }
    }
}

impl JwtSigner for CachedSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

type Cache = RwLock<HashMap<(Algorithm, Vec<u8>), Arc<Parsed>>>;

/// Parsed keys by (algorithm, DER). Keys are few and rotate rarely; entries are never evicted
/// (a retired key's entry costs a few KiB until restart).
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

fn parse(alg: Algorithm, der: &[u8]) -> Result<Parsed> {
    match alg {
        Algorithm::RS256 | Algorithm::PS256 => {
            RsaKeyPair::from_der(der).map(Parsed::Rsa).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()).into())
        }
        Algorithm::ES256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map(Parsed::Ec)
            .map_err(|_| ErrorKind::InvalidEcdsaKey.into()),
        Algorithm::EdDSA => {
            Ed25519KeyPair::from_pkcs8(der).map(Parsed::Ed).map_err(|_| ErrorKind::InvalidEddsaKey.into())
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn cached_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if !matches!(alg, Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 | Algorithm::EdDSA) {
        return (DEFAULT_PROVIDER.signer_factory)(alg, key);
    }
    let id = (*alg, key.as_bytes().to_vec());
    let hit = match cache().read() {
        Ok(map) => map.get(&id).cloned(),
        Err(poisoned) => poisoned.into_inner().get(&id).cloned(),
    };
    let parsed = match hit {
        Some(parsed) => parsed,
        None => {
            let parsed = Arc::new(parse(*alg, key.as_bytes())?);
            match cache().write() {
                Ok(mut map) => map.insert(id, parsed.clone()),
                Err(poisoned) => poisoned.into_inner().insert(id, parsed.clone()),
            };
            parsed
        }
    };
    Ok(Box::new(CachedSigner { alg: *alg, key: parsed }))
}

/// Installs the provider for the process (idempotent; the first provider installed stays).
pub fn install() {
    static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();
    let provider =
        PROVIDER.get_or_init(|| CryptoProvider { signer_factory: cached_signer, ..DEFAULT_PROVIDER.clone() });
    let _ = provider.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{SigningAlg, SigningKey};

    #[test]
    fn cached_signatures_verify_for_every_algorithm() {
        install();
        for alg in SigningAlg::ALL {
            let key = SigningKey::from_pkcs8(alg, &SigningKey::generate_pkcs8(alg).unwrap()).unwrap();
            for _ in 0..2 {
                let token = key.sign(&serde_json::json!({"sub": "x", "exp": 4_000_000_000u64})).unwrap();
                let decoding = jsonwebtoken::DecodingKey::from_jwk(key.public_jwk()).unwrap();
                let header = jsonwebtoken::decode_header(&token).unwrap();
                let mut validation = jsonwebtoken::Validation::new(header.alg);
                validation.validate_aud = false;
                jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
            }
        }
    }
}
