//! Brute-force protection: how many credential attempts an account, an app and a client
//! address get before a temporary lockout (`429` + `Retry-After`). The counts live in the
//! database (`Store::reserve_attempt`), so every node enforces the same limits.
//!
//! Rules this module keeps: an attempt is reserved *before* an expensive credential (a
//! password) is checked, so concurrency cannot push more guesses through than the limit; a
//! refused attempt is never checked, so a correct password during a lockout is refused like a
//! wrong one (no oracle); an address is reserved before an account, so a blocked address spends
//! no account's attempts; every lockout ends (an attacker can delay a person, never lock them
//! out for good). Unknown usernames are throttled exactly like real ones.
//!
//! The client address is the TCP peer, or behind proxies named by `--trusted-proxy` the address
//! they forwarded (see `forwarded`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use doorway_store::{AttemptPolicy, Reservation, Store, StoreError};

use crate::config::Config;

/// Password attempts at an account (keyed by the normalised username, existing or not).
pub const LOGIN_ACCOUNT: &str = "login_account";
/// Password attempts from one client address, over all accounts.
pub const LOGIN_IP: &str = "login_ip";
/// Failed client authentications of one app from one address.
pub const CLIENT_APP: &str = "client_app";
/// Failed client authentications from one address, over all apps.
pub const CLIENT_IP: &str = "client_ip";
/// Second-factor (TOTP or recovery code) attempts at an account, keyed by the user id.
pub const TOTP_ACCOUNT: &str = "totp_account";
/// Second-factor attempts from one client address, over all accounts.
pub const TOTP_IP: &str = "totp_ip";

/// Password-reset requests naming one account (the username or address typed, existing or
/// not), and from one client address: a reset form must not become a way to mail-bomb.
pub const RESET_ACCOUNT: &str = "reset_account";
pub const RESET_IP: &str = "reset_ip";
/// Verification messages a signed-in person asks for (resend, change of address), per user.
pub const EMAIL_SEND: &str = "email_send";

/// Longest bucket key kept: a username or an app id is shorter; anything longer is invalid
/// anyway and must not fill the table with megabytes.
const MAX_KEY: usize = 200;

/// The policy of an account (or of an app from one address).
pub fn account_policy(config: &Config) -> AttemptPolicy {
    AttemptPolicy {
        max_attempts: config.login_max_attempts,
        window: config.login_window,
        lockout: config.login_lockout,
    }
}

/// The policy of a client address: `--login-ip-multiplier` times an account's attempts, so
/// people behind one address (an office, a carrier NAT) are not locked out by one typist.
pub fn address_policy(config: &Config) -> AttemptPolicy {
    AttemptPolicy {
        max_attempts: config.login_max_attempts.saturating_mul(config.login_ip_multiplier),
        ..account_policy(config)
    }
}

/// One counter to reserve from.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub kind: &'static str,
    pub key: String,
    pub policy: AttemptPolicy,
}

impl Bucket {
    pub fn new(kind: &'static str, key: &str, policy: AttemptPolicy) -> Self {
        Self { kind, key: key.chars().take(MAX_KEY).collect(), policy }
    }
}

/// A refusal: try again in `retry_after` seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub retry_after: i64,
    /// The bucket that refused.
    pub kind: &'static str,
    /// This refusal began the lockout (record it once, not once per refused attempt).
    pub started: bool,
}

impl Locked {
    /// The `Retry-After` header (RFC 9110 §10.2.3), in seconds.
    pub fn header(&self) -> (HeaderName, HeaderValue) {
        (header::RETRY_AFTER, HeaderValue::from(self.retry_after.max(1)))
    }

    /// "15 minutes", "40 seconds": when to come back, for a page.
    pub fn wait_text(&self) -> String {
        let seconds = self.retry_after.max(1);
        match seconds {
            1 => "1 second".to_owned(),
            2..60 => format!("{seconds} seconds"),
            60..120 => "1 minute".to_owned(),
            _ => format!("{} minutes", (seconds + 59) / 60),
        }
    }
}

/// Reserves one attempt in each bucket, in order, stopping at the first that refuses (the
/// later ones are not spent). `Ok(Err(_))` is a refusal.
pub async fn reserve(store: &Store, buckets: &[Bucket], now: i64) -> Result<Result<(), Locked>, StoreError> {
    for bucket in buckets {
        if let Reservation::Locked { retry_after, started } =
            store.reserve_attempt(bucket.kind, &bucket.key, &bucket.policy, now).await?
        {
            tracing::warn!(target: "security", event = "throttled", bucket = bucket.kind, retry_after, started,
                "an attempt was refused: too many in this window");
            return Ok(Err(Locked { retry_after, kind: bucket.kind, started }));
        }
    }
    Ok(Ok(()))
}

/// Gives the attempts back after the credential proved right: only failures count.
pub async fn refund(store: &Store, buckets: &[Bucket]) {
    for bucket in buckets {
        if let Err(err) = store.refund_attempt(bucket.kind, &bucket.key).await {
            tracing::warn!(error = %err, "giving back a throttle reservation failed");
        }
    }
}

/// Counts one failed check of a cheap credential (a client secret: a hash comparison, so it
/// is checked first and only failures are reserved). The failure that spends a bucket's
/// allowance starts the lockout, so the next attempt is refused unchecked.
pub async fn record_failure(store: &Store, buckets: &[Bucket], now: i64) -> Result<Option<Locked>, StoreError> {
    forget_clear(buckets);
    let after: Vec<Bucket> = buckets
        .iter()
        .map(|b| Bucket {
            policy: AttemptPolicy { max_attempts: (b.policy.max_attempts - 1).max(1), ..b.policy },
            ..b.clone()
        })
        .collect();
    Ok(reserve(store, &after, now).await?.err())
}

/// The lockout running on any of `buckets`, checked before a cheap credential is.
///
/// "No lockout" is remembered per process for [`CLEAR_TTL`]: client authentication asks on
/// every token, introspection and revocation request, and the answer is almost always no. A
/// failure counted here forgets it at once, so on this node a lockout is honoured from the
/// failure that starts it; a lockout started on another node is honoured here within
/// [`CLEAR_TTL`] (each wrong secret sent here in that time is still counted, and refused once
/// the count is seen).
pub async fn lockout(store: &Store, buckets: &[Bucket], now: i64) -> Result<Option<Locked>, StoreError> {
    if buckets.is_empty() {
        return Ok(None);
    }
    let cache_key = cache_key(buckets);
    if clear_cache()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&cache_key)
        .is_some_and(|at| at.elapsed() < CLEAR_TTL)
    {
        return Ok(None);
    }
    let keys: Vec<(&str, &str)> = buckets.iter().map(|b| (b.kind, b.key.as_str())).collect();
    let locked = store.attempt_lockout(&keys, now).await?.map(|retry_after| Locked {
        retry_after,
        kind: buckets.first().map_or(CLIENT_IP, |b| b.kind),
        started: false,
    });
    if locked.is_none() {
        let mut cache = clear_cache().lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CLEAR_CACHE_MAX {
            cache.clear();
        }
        cache.insert(cache_key, Instant::now());
    }
    Ok(locked)
}

/// How long a "no lockout" answer is trusted on this node.
pub const CLEAR_TTL: Duration = Duration::from_secs(1);
const CLEAR_CACHE_MAX: usize = 10_000;

fn clear_cache() -> &'static Mutex<HashMap<String, Instant>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn cache_key(buckets: &[Bucket]) -> String {
    buckets.iter().map(|b| format!("{}\u{1f}{}", b.kind, b.key)).collect::<Vec<_>>().join("\u{1e}")
}

/// Forgets a remembered "no lockout" for `buckets` (a failure was just counted).
fn forget_clear(buckets: &[Bucket]) {
    clear_cache().lock().unwrap_or_else(PoisonError::into_inner).remove(&cache_key(buckets));
}

/// The buckets of a password attempt at `username` from `ip`: the address first.
pub fn password_buckets(config: &Config, username: &str, ip: Option<IpAddr>) -> Vec<Bucket> {
    vec![
        Bucket::new(LOGIN_IP, &address_key(ip), address_policy(config)),
        Bucket::new(LOGIN_ACCOUNT, &username.trim().to_ascii_lowercase(), account_policy(config)),
    ]
}

/// The buckets of a second-factor attempt (a TOTP or recovery code) for `user_id` from `ip`:
/// the address first. Separate from the password buckets, with the same policy: a 6-digit
/// code has only 10^6 values, so guesses must be bounded per account across challenges.
pub fn totp_buckets(config: &Config, user_id: &str, ip: Option<IpAddr>) -> Vec<Bucket> {
    vec![
        Bucket::new(TOTP_IP, &address_key(ip), address_policy(config)),
        Bucket::new(TOTP_ACCOUNT, user_id, account_policy(config)),
    ]
}

/// The buckets of a client authentication of `client_id` from `ip`: the address first. The
/// app's bucket is per address, so failures from elsewhere cannot lock a working app out.
pub fn client_buckets(config: &Config, client_id: &str, ip: Option<IpAddr>) -> Vec<Bucket> {
    let address = address_key(ip);
    vec![
        Bucket::new(CLIENT_IP, &address, address_policy(config)),
        Bucket::new(CLIENT_APP, &format!("{address} {client_id}"), account_policy(config)),
    ]
}

/// An address as a bucket key. IPv6 counts by /64: one subscriber usually holds a whole /64
/// and could otherwise rotate through 2^64 addresses.
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

/// The client's address as [`with_peer`] worked it out (behind trusted proxies, the forwarded
/// one); else the TCP peer's, if the server was started with connection info (it always is).
pub fn peer_of(parts: &axum::http::Extensions) -> Option<IpAddr> {
    match parts.get::<ClientIp>() {
        Some(ClientIp(ip)) => Some(*ip),
        None => parts.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip()),
    }
}

/// The client address of a request that came through a trusted proxy.
#[derive(Debug, Clone, Copy)]
struct ClientIp(IpAddr);

/// The calling address, as an extractor that never rejects.
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(peer_of(&parts.extensions)))
    }
}

tokio::task_local! {
    /// The peer address of the request being handled, for code that is handed headers and
    /// parameters only (client authentication, shared by four endpoints).
    static PEER: Option<IpAddr>;
}

/// Middleware: works out the client's address (see `forwarded`), records it for [`peer_of`]
/// and makes it available to [`current_peer`].
pub async fn with_peer(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut ip = peer_of(request.extensions());
    if let Some(peer) = ip.filter(|_| !state.config.trusted_proxies.is_empty()) {
        let client = crate::forwarded::client_ip(peer, request.headers(), &state.config.trusted_proxies);
        request.extensions_mut().insert(ClientIp(client));
        ip = Some(client);
    }
    PEER.scope(ip, next.run(request)).await
}

/// The peer address of the request this task is handling (see [`with_peer`]).
pub fn current_peer() -> Option<IpAddr> {
    PEER.try_with(|ip| *ip).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_slash_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_eq!(address_key(Some(a)), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(address_key(Some(mapped)), "203.0.113.7");
        assert_eq!(address_key(None), "unknown");
    }

    #[test]
    fn waits_read_naturally() {
        let locked = |retry_after| Locked { retry_after, kind: LOGIN_ACCOUNT, started: false };
        assert_eq!(locked(0).wait_text(), "1 second");
        assert_eq!(locked(40).wait_text(), "40 seconds");
        assert_eq!(locked(61).wait_text(), "1 minute");
        assert_eq!(locked(900).wait_text(), "15 minutes");
        assert_eq!(locked(901).wait_text(), "16 minutes");
        assert_eq!(locked(5).header().1, "5");
    }

    #[test]
    fn a_username_bucket_ignores_case_and_length() {
        let config = crate::config::Config::resolve(
            &crate::config::GlobalArgs { data_dir: None, database: None, config: None },
            &crate::config::ServeArgs::default(),
        )
        .unwrap();
        let buckets = password_buckets(&config, " Alice ", None);
        assert_eq!(buckets[0].kind, LOGIN_IP);
        assert_eq!(buckets[1].key, "alice");
        assert_eq!(buckets[0].policy.max_attempts, 100);
        let long = password_buckets(&config, &"x".repeat(10_000), None);
        assert_eq!(long[1].key.len(), MAX_KEY);
    }
}
