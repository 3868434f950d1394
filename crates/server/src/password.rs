//! Password hashing with argon2id (OWASP: m=19 MiB, t=2, p=1), run on the blocking pool and
//! bounded by the core count, since each hash holds 19 MiB and a core for ~10 ms.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// An argon2id hash with the same parameters as every stored one (m=19456, t=2, p=1), of a
/// password nobody has: verified against when the user does not exist. A constant, so start-up
/// does not spend ~10 ms computing it.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$prwrxzHzq3EZRCkF0z2Jjw$60MXSoInnQp/o50vC8FN9QQ+4OScSPAK0gfKttO1R4c";

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so timing does not reveal accounts.
    dummy_hash: &'static str,
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    Ok(argon2()?.hash_password(password.as_bytes()).map_err(|e| anyhow::anyhow!("argon2: {e}"))?.to_string())
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(Self { permits: Arc::new(Semaphore::new(cores)), dummy_hash: DUMMY_HASH })
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no user,
    /// taking the same time either way. True only for a real match.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await?;
        let real = stored.is_some();
        let hash = stored.unwrap_or(self.dummy_hash).to_owned();
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            Ok(argon2()?.verify_password(password.as_bytes(), hash.as_str()).is_ok())
        })
        .await??;
        Ok(real && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_has_the_parameters_of_real_hashes() {
        let real = hash_blocking("anything at all").unwrap();
        let params = |h: &str| h.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(DUMMY_HASH), params(&real));
        assert!(argon2().unwrap().verify_password(b"x", DUMMY_HASH).is_err());
    }
}
