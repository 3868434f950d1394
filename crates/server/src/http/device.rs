//! The device authorization endpoint and the `/device` page (RFC 8628 §3.1–3.3).
// TODO(helper): implement. Placeholders so the tree compiles.

use axum::response::{IntoResponse, Response};

use crate::http::error::PageError;

pub async fn authorization() -> Response {
    PageError::not_found().into_response()
}

pub async fn page() -> Response {
    PageError::not_found().into_response()
}
