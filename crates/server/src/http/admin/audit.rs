//! `/api/v1/audit`: the security log of the whole installation, newest first, filtered by
//! account and kind. And the record of the admin API's own writes: every authenticated call
//! that is not a read is logged with its token, method, path and resulting status.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{RawQuery, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use doorway_store::{AuditEntry, AuditQuery};
use serde::Serialize;
use serde_json::json;

use super::auth::Admin;
use super::error::ApiError;
use super::{DEFAULT_LIMIT, MAX_LIMIT, json};
use crate::audit::{self, Event, Origin, kind};
use crate::state::{AppState, now};

#[derive(Serialize)]
struct AuditEvent {
    id: String,
    at: i64,
    kind: String,
    user_id: Option<String>,
    actor_user_id: Option<String>,
    actor_token_id: Option<String>,
    client_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    detail: serde_json::Value,
}

impl From<AuditEntry> for AuditEvent {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            kind: e.kind,
            user_id: e.user_id,
            actor_user_id: e.actor_user_id,
            actor_token_id: e.actor_token_id,
            client_id: e.client_id,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
        }
    }
}

#[derive(Serialize)]
struct AuditPage {
    data: Vec<AuditEvent>,
    /// Pass as `before` for the next (older) page; absent on the last.
    next_before: Option<String>,
}

/// An entry id as the API hands them out: hex, of bounded length.
fn valid_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /api/v1/audit?user_id=&kind=&before=&limit=`.
pub async fn list(_: Admin, State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let (mut user_id, mut kind_filter, mut before, mut limit) = (None, None, None, DEFAULT_LIMIT);
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "user_id" if !value.is_empty() => user_id = Some(value),
            "kind" if !value.is_empty() => {
                if !kind::ALL.contains(&value.as_str()) {
                    return Err(ApiError::invalid(format!("kind must be one of: {}", kind::ALL.join(", "))));
                }
                kind_filter = Some(value);
            }
            "before" if !value.is_empty() => {
                if !valid_id(&value) {
                    return Err(ApiError::invalid("before must be the id of an entry (next_before of a page)"));
                }
                before = Some(value);
            }
            "limit" => {
                limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| ApiError::invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}")))?;
            }
            _ => {}
        }
    }
    let query =
        AuditQuery { user_id: user_id.as_deref(), kind: kind_filter.as_deref(), before: before.as_deref(), limit };
    let entries = state.store.list_audit(&query).await?;
    let full = i64::try_from(entries.len()).is_ok_and(|n| n == limit);
    let next_before = entries.last().filter(|_| full).map(|e| e.id.clone());
    let page = AuditPage { data: entries.into_iter().map(AuditEvent::from).collect(), next_before };
    Ok(json(StatusCode::OK, &page))
}

/// Filled by the [`Admin`] extractor with the id of the token that authenticated the call, so
/// [`record_writes`] knows who acted (and that someone did: an unauthenticated call is not
/// recorded).
#[derive(Debug, Clone, Default)]
pub struct Actor(Arc<Mutex<Option<String>>>);

impl Actor {
    pub fn set(&self, token_id: &str) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(token_id.to_owned());
    }

    fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Middleware on the admin API: records each authenticated write (refused ones included)
/// with the token, method, path and status. Reads are not recorded.
pub async fn record_writes(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method();
    if *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS {
        return next.run(request).await;
    }
    let actor = Actor::default();
    request.extensions_mut().insert(actor.clone());
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let origin = Origin::new(request.headers(), crate::throttle::peer_of(request.extensions()));
    let response = next.run(request).await;
    let Some(token_id) = actor.take() else { return response };
    let status = response.status().as_u16();
    let mut event = Event::new(kind::ADMIN_WRITE)
        .by_token(&token_id)
        .detail(json!({ "method": method, "path": path, "status": status }));
    // `/api/v1/users/{id}/…` concerns that account (it appears in the person's own log);
    // `/api/v1/apps/{client_id}/…` and `…/grants/{client_id}` that app.
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    match segments.as_slice() {
        ["users", id, "grants", client_id, ..] => event = event.user(id).client(client_id),
        ["users", id, ..] => event = event.user(id),
        ["apps", client_id, ..] => event = event.client(client_id),
        _ => {}
    }
    audit::record(&state, &origin, event, now()).await;
    response
}
