//! Who may call the admin API: a live admin API token (`Authorization: Bearer dwa_…`), and
//! nothing else — not a browser session of an admin user, not an OAuth access token. A
//! read-only token may only read. Handlers take [`Admin`], so an unauthenticated call never
//! reaches them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use doorway_core::secrets::hash_secret;
use doorway_store::AdminToken;

use super::error::ApiError;
use crate::state::{AppState, now};

/// The prefix of every admin API token, so a leaked one is recognisable (secret scanners) and
/// never confused with an OAuth token.
pub const TOKEN_PREFIX: &str = "dwa_";

/// An authenticated admin API call.
#[derive(Debug, Clone)]
pub struct Admin {
    pub token: AdminToken,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::missing_token());
        };
        // RFC 6750 §2.1: `Bearer <token>`, the scheme case-insensitive.
        let presented = header
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| token.starts_with(TOKEN_PREFIX));
        let found = match presented {
            Some(token) => state.store.find_admin_token(&hash_secret(token)).await?,
            None => None,
        };
        let Some(token) = found else {
            tracing::warn!(target: "security", event = "admin_token_rejected", "an admin API call with an invalid token");
            return Err(ApiError::invalid_token());
        };
        // The security log records this token as the actor of a write (see `audit`).
        if let Some(actor) = parts.extensions.get::<super::audit::Actor>() {
            actor.set(&token.id);
        }
        let reads = parts.method == Method::GET || parts.method == Method::HEAD;
        if token.read_only && !reads {
            tracing::warn!(target: "security", event = "admin_token_read_only", token_id = %token.id,
                method = %parts.method, "a read-only admin API token tried to write");
            return Err(ApiError::read_only());
        }
        if let Err(err) = state.store.touch_admin_token(&token, now()).await {
            tracing::warn!(error = %err, "recording an admin API token's use failed");
        }
        if !reads {
            tracing::info!(token_id = %token.id, token_name = %token.name, method = %parts.method,
                path = parts.uri.path(), "admin API write");
        }
        Ok(Self { token })
    }
}
