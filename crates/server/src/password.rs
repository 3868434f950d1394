//! Password hashing with argon2id (OWASP: m=19 MiB, t=2, p=1), run on the blocking pool and
//! bounded by the core count, since each hash holds 19 MiB and a core for ~10 ms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use zeroize::Zeroize;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// An argon2id hash with the same parameters as every stored one (m=19456, t=2, p=1), of a
/// password nobody has: verified against when the user does not exist. A constant, so start-up
/// does not spend ~10 ms computing it.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$prwrxzHzq3EZRCkF0z2Jjw$60MXSoInnQp/o50vC8FN9QQ+4OScSPAK0gfKttO1R4c";

/// Hashing and verification, at most one per core at a time.
///
/// Each argon2id run needs 19 MiB of working memory, wiped after each run. While more runs wait
/// (a burst of sign-ins), a finished run's memory passes to the next one: allocating it afresh
/// costs ~4,900 page faults, which doubled a sign-in's CPU time. When none waits, it is handed
/// back to the system (see [`blocks_for`]), so an idle server holds none.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Working memory kept for the runs waiting.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Runs waiting for a permit or under way.
    demand: Arc<AtomicUsize>,
    /// Verified against when the user does not exist, so timing does not reveal accounts.
    dummy_hash: &'static str,
}

/// Counts a run in [`Passwords::demand`] until dropped (a cancelled wait included).
struct Demand(Arc<AtomicUsize>);

impl Demand {
    fn new(demand: &Arc<AtomicUsize>) -> Self {
        demand.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(demand))
    }
}

impl Drop for Demand {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn params() -> anyhow::Result<Params> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))
}

/// Working memory for `params`: `memory` if it is large enough, else a new allocation.
///
/// The allocation reserves [`RESERVE_BYTES`] (pages beyond the 19 MiB used are never touched,
/// so never resident). glibc's malloc maps a request that large from the system and unmaps it
/// on free, always; a 19 MiB request, once a block of that size has been freed, is carved from a
/// per-thread arena instead and kept there for good (a few sign-ins on a few blocking threads
/// once left Doorway at 250 MiB resident).
fn blocks_for<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let count = params.block_count();
    if memory.len() < count {
        let mut fresh = Vec::with_capacity(count.max(RESERVE_BYTES / std::mem::size_of::<Block>()));
        fresh.resize(count, Block::default());
        *memory = fresh;
    }
    &mut memory[..count]
}

/// Above glibc's largest dynamic mmap threshold (32 MiB on 64-bit systems).
const RESERVE_BYTES: usize = 33 << 20;

/// A new argon2id PHC string for `password`, computed in `memory`.
fn hash_with(password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
    let params = params()?;
    let salt = Salt::new(&doorway_core::secrets::random_bytes::<16>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let mut out = [0u8; 32];
    let blocks = blocks_for(memory, &params);
    let result = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()).hash_password_into_with_memory(
        password.as_bytes(),
        &salt,
        &mut out,
        &mut *blocks,
    );
    blocks.iter_mut().for_each(Zeroize::zeroize);
    result.map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.into(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    };
    out.zeroize();
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored` (any argon2 variant and parameters it
/// names), computed in `memory`. A malformed hash matches nothing.
fn verify_with(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let Ok(algorithm) = Algorithm::new(hash.algorithm.as_str()) else { return false };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else { return false };
    let mut out = vec![0u8; expected.len()];
    let blocks = blocks_for(memory, &params);
    let computed = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut *blocks,
    );
    blocks.iter_mut().for_each(Zeroize::zeroize);
    let matched = computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_ref()));
    out.zeroize();
    matched
}

/// Hashes a password outside the server (CLI, demo set-up), with memory of its own.
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_with(password, &mut Vec::new())
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Ok(Self {
            permits: Arc::new(Semaphore::new(cores)),
            memory: Arc::default(),
            demand: Arc::default(),
            dummy_hash: DUMMY_HASH,
        })
    }

    /// Runs `work` on the blocking pool under a permit, with working memory kept from a run
    /// before or allocated for it; afterwards the memory is kept if another run is waiting or
    /// under way, and freed (with whatever else is kept) otherwise.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let _demand = Demand::new(&self.demand);
        let _permit = self.permits.acquire().await?;
        let (pool, demand) = (Arc::clone(&self.memory), Arc::clone(&self.demand));
        let done = tokio::task::spawn_blocking(move || {
            let mut memory = pool.lock().unwrap_or_else(PoisonError::into_inner).pop().unwrap_or_default();
            let result = work(&mut memory);
            let mut kept = pool.lock().unwrap_or_else(PoisonError::into_inner);
            if demand.load(Ordering::SeqCst) > 1 {
                kept.push(memory);
            } else {
                kept.clear();
            }
            result
        })
        .await?;
        Ok(done)
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        self.run(move |memory| hash_with(&password, memory)).await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no user,
    /// taking the same time either way. True only for a real match.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let real = stored.is_some();
        let hash = stored.unwrap_or(self.dummy_hash).to_owned();
        let password = password.to_owned();
        let matched = self.run(move |memory| verify_with(&password, &hash, memory)).await?;
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
        assert!(!verify_with("x", DUMMY_HASH, &mut Vec::new()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn working_memory_is_kept_only_while_runs_wait() {
        let passwords = Passwords { permits: Arc::new(Semaphore::new(1)), ..Passwords::new().unwrap() };
        let hash = passwords.hash("pw").await.unwrap();
        assert!(passwords.memory.lock().unwrap().is_empty(), "a lone run keeps nothing");
        let burst = (0..3).map(|_| passwords.verify("pw", Some(&hash)));
        assert!(futures::future::join_all(burst).await.into_iter().all(|r| r.unwrap()));
        assert!(passwords.memory.lock().unwrap().is_empty(), "the last of a burst frees what was kept");
        assert_eq!(passwords.demand.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn hashes_verify_with_the_argon2_crate_and_back() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let mut memory = Vec::new();
        let ours = hash_with("correct horse", &mut memory).unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap());
        assert!(reference.verify_password(b"correct horse", ours.as_str()).is_ok());
        assert!(reference.verify_password(b"correct horsf", ours.as_str()).is_err());
        let theirs = reference.hash_password(b"battery staple").unwrap().to_string();
        assert!(verify_with("battery staple", &theirs, &mut memory), "memory reused across runs");
        assert!(!verify_with("battery stapler", &theirs, &mut memory));
        assert!(!verify_with("battery staple", "$argon2id$v=19$m=19456,t=2,p=1$bm90IGEgaGFzaA", &mut memory));
        assert!(!verify_with("battery staple", "not a phc string", &mut memory));
    }
}
