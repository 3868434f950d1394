//! Discovery metadata (OIDC Discovery §4, RFC 8414 §3) and the JWKS (RFC 7517), both
//! serialised once at start-up.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

pub async fn metadata(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")],
        state.discovery.clone(),
    )
}

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/jwk-set+json"), (header::CACHE_CONTROL, "public, max-age=300")],
        state.keys.current().jwks().to_string(),
    )
}
