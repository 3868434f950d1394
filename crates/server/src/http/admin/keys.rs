//! `/api/v1/keys`: the signing keys' states, and rotation on demand (what `doorway keys list`
//! and `doorway keys rotate` do). Only public facts leave: kid, algorithm, status and times.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use doorway_core::jose::SigningAlg;
use doorway_store::StoredKey;
use serde::{Deserialize, Serialize};

use super::auth::Admin;
use super::error::ApiError;
use super::{ApiJson, json};
use crate::state::{AppState, now};

#[derive(Serialize)]
struct Key<'a> {
    kid: &'a str,
    alg: &'a str,
    status: &'a str,
    created_at: i64,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
}

impl<'a> From<&'a StoredKey> for Key<'a> {
    fn from(k: &'a StoredKey) -> Self {
        Self {
            kid: &k.kid,
            alg: &k.alg,
            status: &k.status,
            created_at: k.created_at,
            activated_at: k.activated_at,
            retired_at: k.retired_at,
        }
    }
}

#[derive(Serialize)]
struct KeyList<'a> {
    data: Vec<Key<'a>>,
}

pub async fn list(_: Admin, State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys = state.store.list_signing_keys().await?;
    Ok(json(StatusCode::OK, &KeyList { data: keys.iter().map(Key::from).collect() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Default: every algorithm.
    #[serde(default)]
    algs: Vec<String>,
    /// Sign with the new keys at once instead of after key_publish_ahead.
    #[serde(default)]
    now: bool,
}

pub async fn rotate(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RotateBody>,
) -> Result<Response, ApiError> {
    let mut algs: Vec<SigningAlg> = Vec::new();
    for raw in &body.algs {
        let alg = SigningAlg::parse(raw)
            .map_err(|_| ApiError::invalid(format!("algs: '{raw}' is not one of RS256, PS256, ES256, EdDSA")))?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        algs = SigningAlg::ALL.to_vec();
    }
    let kids = state.keys.rotate_own(&state.store, &algs, body.now, now()).await?;
    tracing::info!(?kids, immediately = body.now, token_id = %admin.token.id, "signing keys rotated through the admin API");
    let keys = state.store.list_signing_keys().await?;
    let data = keys.iter().filter(|k| kids.contains(&k.kid)).map(Key::from).collect();
    Ok(json(StatusCode::OK, &KeyList { data }))
}
