//! `/api/v1/users/{id}/grants`: the apps a user granted access to, and revoking one — the same
//! revocation as the user's own connected-apps page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::Admin;
use super::error::ApiError;
use super::{ApiPath, json};
use crate::state::AppState;

#[derive(Serialize)]
struct Grant {
    client_id: String,
    app_name: String,
    scopes: Vec<String>,
    granted_at: i64,
    updated_at: i64,
    last_used_at: Option<i64>,
}

#[derive(Serialize)]
struct GrantList {
    data: Vec<Grant>,
}

pub async fn list(_: Admin, State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let user = super::users::find(&state, &id).await?;
    let data = state
        .store
        .list_connected_apps(&user.id)
        .await?
        .into_iter()
        .map(|app| Grant {
            scopes: app.scope.iter().map(|s| s.as_str().to_owned()).collect(),
            client_id: app.client_id,
            app_name: app.name,
            granted_at: app.granted_at,
            updated_at: app.updated_at,
            last_used_at: app.last_used_at,
        })
        .collect();
    Ok(json(StatusCode::OK, &GrantList { data }))
}

pub async fn revoke(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath((id, client_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let user = super::users::find(&state, &id).await?;
    let revoked = crate::http::settings::revoke_app(&state, &user, &client_id).await?;
    if !revoked.found() {
        return Err(ApiError::not_found("grant"));
    }
    tracing::info!(user_id = %user.id, %client_id, tokens = revoked.tokens, token_id = %admin.token.id,
        "grant revoked through the admin API");
    Ok(StatusCode::NO_CONTENT.into_response())
}
