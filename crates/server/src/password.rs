//! Password hashing with argon2id (OWASP: m=19 MiB, t=2, p=1), run on the blocking pool and
//! bounded by the core count, since each hash holds 19 MiB and a core for ~10 ms.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so timing does not reveal accounts.
    dummy_hash: Arc<String>,
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
        let dummy = hash_blocking("doorway dummy password for unknown users")?;
        Ok(Self { permits: Arc::new(Semaphore::new(cores)), dummy_hash: Arc::new(dummy) })
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
        let hash = stored.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
            Ok(argon2()?.verify_password(password.as_bytes(), hash.as_str()).is_ok())
        })
        .await??;
        Ok(real && matched)
    }
}
