//! Doorway as a WebAuthn relying party: who it is (RP ID and origin, from the configured issuer,
//! never from the request's Host), and the ceremony state it keeps between a start and a finish.
//! It never accepts an IP-address issuer: WebAuthn §5.1.4.1 and the RP ID's definition as a
//! valid domain string forbid it, so passkeys are simply unavailable there.

use doorway_core::secrets::{hash_secret, random_token};
use doorway_store::{CeremonyPurpose, Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

use crate::config::Config;
use crate::keys::Keys;

/// How long a ceremony may take from start to finish (WebAuthn's recommended timeout for a
/// person to find and unlock their authenticator is five minutes).
pub const CEREMONY_TTL: i64 = 300;

/// The RP ID: the issuer's host, when it is a domain name (`localhost` included).
pub fn rp_id(issuer: &str) -> Option<String> {
    match Url::parse(issuer).ok()?.host()? {
        url::Host::Domain(domain) => Some(domain.to_owned()),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
    }
}

/// Whether this installation offers passkeys at all.
pub fn available(config: &Config) -> bool {
    relying_party(config).is_some()
}

/// The relying party for `config`'s issuer: RP ID = its host, the one allowed origin = its
/// origin (scheme, host, port; a path under the issuer does not matter to browsers). Cheap to
/// build; `None` on an IP-address issuer.
pub fn relying_party(config: &Config) -> Option<Webauthn> {
    let issuer = Url::parse(&config.issuer).ok()?;
    let rp_id = rp_id(&config.issuer)?;
    let origin = Url::parse(&issuer.origin().ascii_serialization()).ok()?;
    let name = if config.platform_name.is_empty() { rp_id.as_str() } else { config.platform_name.as_str() };
    WebauthnBuilder::new(&rp_id, &origin).ok()?.rp_name(name).build().ok()
}

/// The WebAuthn user handle of an account: its id when that is a UUID (every account Doorway
/// creates), otherwise derived from it. It names the account to authenticators and must not
/// carry personal information (WebAuthn §14.6.1), which a random UUID does not.
pub fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let digest = hash_secret(user_id);
        Uuid::from_u128(u128::from_str_radix(digest.get(..32).unwrap_or("0"), 16).unwrap_or_default())
    })
}

/// A WebAuthn credential id as stored and looked up: base64url without padding.
pub fn credential_key(raw: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(raw)
}

/// Keeps `state` for the finish; returns the ceremony id the browser sends back (only its hash
/// is stored).
pub async fn stash<T: Serialize>(
    store: &Store,
    purpose: CeremonyPurpose,
    user_id: Option<&str>,
    state: &T,
    now: i64,
) -> Result<String, StoreError> {
    let id = random_token("");
    let json = serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.stash_passkey_ceremony(&hash_secret(&id), purpose, user_id, &json, now + CEREMONY_TTL).await?;
    Ok(id)
}

/// A passkey sign-in ceremony as the browser carries it between start and finish.
///
/// Sign-in is unauthenticated and the login page starts a ceremony on every view (for the
/// browser's autofill), so its state is not stored: it travels sealed (AEAD: neither readable
/// nor alterable, so the user-verification policy cannot be weakened) with its expiry, under a
/// label bound to the browser's CSRF cookie, so a ceremony taken from one browser does not
/// finish in another. A flood of starts writes nothing. Single use is enforced at the finish
/// (see [`Store::mark_passkey_sign_in_used`]), once an assertion has verified.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedSignIn<T> {
    expires_at: i64,
    state: T,
}

fn sign_in_label(binding: &str) -> String {
    format!("passkey-sign-in:{}", hash_secret(binding))
}

/// Seals a sign-in ceremony's `state` for the browser whose CSRF cookie is `binding`.
pub fn seal_sign_in<T: Serialize>(keys: &Keys, binding: &str, state: &T, now: i64) -> Option<String> {
    use base64ct::Encoding;
    let json = serde_json::to_vec(&SealedSignIn { expires_at: now + CEREMONY_TTL, state }).ok()?;
    let sealed = keys.seal(&sign_in_label(binding), &json).ok()?;
    Some(base64ct::Base64UrlUnpadded::encode_string(&sealed))
}

/// Opens a sign-in ceremony sealed by [`seal_sign_in`] for the same browser, if it has not
/// expired at `now`: its state and expiry. Anything else (forged, altered, another browser's,
/// expired) is `None`, all the same to the caller.
pub fn open_sign_in<T: DeserializeOwned>(keys: &Keys, binding: &str, token: &str, now: i64) -> Option<(T, i64)> {
    use base64ct::Encoding;
    let sealed = base64ct::Base64UrlUnpadded::decode_vec(token).ok()?;
    let json = keys.open(&sign_in_label(binding), &sealed).ok()?;
    let opened: SealedSignIn<T> = serde_json::from_slice(&json).ok()?;
    (opened.expires_at > now).then_some((opened.state, opened.expires_at))
}

/// What [`take`] found.
pub enum Taken<T> {
    /// The ceremony, now consumed, and whose it was (registrations).
    Found { user_id: Option<String>, state: T },
    /// Never started, already finished, or expired: all the same to the caller.
    Missing,
}

/// Consumes the ceremony `id` (single use, whatever comes next).
pub async fn take<T: DeserializeOwned>(
    store: &Store,
    id: &str,
    purpose: CeremonyPurpose,
    now: i64,
) -> Result<Taken<T>, StoreError> {
    let Some(taken) = store.take_passkey_ceremony(&hash_secret(id), purpose, now).await? else {
        return Ok(Taken::Missing);
    };
    let state = serde_json::from_str(&taken.state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Taken::Found { user_id: taken.user_id, state })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rp_id_is_the_issuers_domain_and_never_an_ip_address() {
        assert_eq!(rp_id("http://localhost:8080").as_deref(), Some("localhost"));
        assert_eq!(rp_id("https://id.example/doorway").as_deref(), Some("id.example"));
        assert_eq!(rp_id("http://127.0.0.1:8080"), None);
        assert_eq!(rp_id("http://[::1]:8080"), None);
    }

    #[test]
    fn user_handles_are_the_account_uuid_or_a_stable_derivation() {
        let id = "0b7c4a2e-3f1d-4c1b-9a55-1f2e3d4c5b6a";
        assert_eq!(user_handle(id).to_string(), id);
        assert_eq!(user_handle("legacy-id"), user_handle("legacy-id"));
        assert_ne!(user_handle("legacy-id"), user_handle("other-id"));
    }
}
