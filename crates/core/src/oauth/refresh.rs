//! Refresh tokens (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! Every refresh rotates the token. The successor is derived from the parent with a keyed
//! HMAC, so concurrent refreshes of one token — on any node — compute the same successor: within
//! the grace window they all receive it, and there is never a second live branch. Outside the
//! window, a rotated-out token is a replay and revokes the whole family.

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::OAuthError;
use crate::model::RefreshToken;
use crate::types::ScopeSet;

/// Where a presented refresh token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshState {
    /// Live and not yet rotated: rotate it.
    Usable,
    /// Rotated moments ago (a concurrent refresh, a retried request): answer with the same
    /// successor.
    InGrace,
    /// Rotated out earlier: a replay. Revoke the family.
    Reused,
    Expired,
    Revoked,
}

pub fn classify(token: &RefreshToken, now: i64, grace: i64) -> RefreshState {
    if token.revoked_at.is_some() {
        return RefreshState::Revoked;
    }
    match token.rotated_at {
        Some(rotated) if now - rotated <= grace => RefreshState::InGrace,
        Some(_) => RefreshState::Reused,
        None if now >= token.idle_expires_at || now >= token.absolute_expires_at => RefreshState::Expired,
        None => RefreshState::Usable,
    }
}

/// Derives successors. The key is the same on every node (derived from the master key).
pub struct RotationKey(hmac::Key);

impl std::fmt::Debug for RotationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RotationKey([redacted])")
    }
}

impl RotationKey {
    pub fn new(secret: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The successor of `parent`: `prefix` + base64url(HMAC(key, parent)).
    pub fn successor(&self, prefix: &str, parent: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(b"doorway refresh successor v1\0");
        ctx.update(parent.as_bytes());
        format!("{prefix}{}", Base64UrlUnpadded::encode_string(ctx.sign().as_ref()))
    }
}

/// RFC 6749 §6: a requested scope must not exceed the grant; absent means the whole grant.
pub fn narrowed_scope(granted: &ScopeSet, requested: Option<&str>) -> Result<ScopeSet, OAuthError> {
    let Some(raw) = requested else {
        return Ok(granted.clone());
    };
    let requested = ScopeSet::parse(raw).map_err(OAuthError::invalid_scope)?;
    if requested.is_empty() {
        return Ok(granted.clone());
    }
    if let Some(extra) = requested.missing_from(granted).next() {
        return Err(OAuthError::invalid_scope(format!("'{extra}' was not granted to this refresh token")));
    }
    Ok(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(rotated_at: Option<i64>, revoked_at: Option<i64>) -> RefreshToken {
        RefreshToken {
            token_hash: "h".into(),
            family_id: "f".into(),
            client_id: "c".into(),
            user_id: "u".into(),
            scope: ScopeSet::parse("openid profile").unwrap(),
            auth_time: 0,
            sid: None,
            created_at: 0,
            idle_expires_at: 1000,
            absolute_expires_at: 2000,
            rotated_at,
            revoked_at,
        }
    }

    #[test]
    fn a_rotated_token_is_in_grace_then_a_replay() {
        assert_eq!(classify(&token(None, None), 10, 10), RefreshState::Usable);
        assert_eq!(classify(&token(Some(100), None), 110, 10), RefreshState::InGrace);
        assert_eq!(classify(&token(Some(100), None), 111, 10), RefreshState::Reused);
        assert_eq!(classify(&token(None, Some(5)), 10, 10), RefreshState::Revoked);
        assert_eq!(classify(&token(None, None), 1000, 10), RefreshState::Expired);
    }

    #[test]
    fn successors_are_deterministic_per_key_and_parent() {
        let key = RotationKey::new(&[7u8; 32]);
        let a = key.successor("dw_rt_", "parent-1");
        assert_eq!(a, key.successor("dw_rt_", "parent-1"));
        assert_ne!(a, key.successor("dw_rt_", "parent-2"));
        assert_ne!(a, RotationKey::new(&[8u8; 32]).successor("dw_rt_", "parent-1"));
        assert!(a.starts_with("dw_rt_"));
    }

    #[test]
    fn refresh_scope_may_narrow_but_not_widen() {
        let granted = ScopeSet::parse("openid profile email").unwrap();
        assert_eq!(narrowed_scope(&granted, None).unwrap(), granted);
        assert_eq!(narrowed_scope(&granted, Some("openid")).unwrap().to_string(), "openid");
        let wider = narrowed_scope(&granted, Some("openid read-billing")).unwrap_err();
        assert_eq!(wider.code, crate::ErrorCode::InvalidScope);
    }
}
