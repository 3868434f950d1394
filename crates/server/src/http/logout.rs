//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and back-channel logout
//! delivery (OpenID Connect Back-Channel Logout 1.0).
// TODO(helper): implement. Placeholders so the tree compiles.

use axum::response::{IntoResponse, Response};

use crate::http::error::PageError;
use crate::state::AppState;

pub async fn end_session() -> Response {
    PageError::not_found().into_response()
}

/// Delivers the logout tokens that are due (called every second by the background worker).
pub async fn deliver_due(state: &AppState) {
    let _ = state;
}
