//! `/api/v1/scopes`: the scope registry as configured — built-in scopes and the operator's
//! `[[scopes]]` — with the sentence shown at consent and the claims each releases.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::auth::Admin;
use super::json;
use crate::state::AppState;

pub async fn list(_: Admin, State(state): State<AppState>) -> Response {
    json(StatusCode::OK, &json!({ "data": state.scopes.entries() }))
}
