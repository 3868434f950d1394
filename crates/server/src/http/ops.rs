//! Operations: liveness and readiness for load balancers, the metrics router (its own
//! listener), and the observation every request gets — a request id (the caller's
//! `X-Request-Id` when sane, else a new one) echoed in the response, a tracing span carrying it
//! and the matched route, request metrics and one access-log line. Nothing here ever logs a raw
//! URL, a header or a body: query strings and forms carry codes, states, tokens and passwords.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::Instrument;

use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Readiness answers within this, whatever the database does: a health check must not hang.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// A caller's request id is kept when it is short and plain (it lands in every log line).
fn acceptable_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// A request id unique across processes without a system call per request: a random prefix
/// drawn once per process, then a counter.
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix =
        PREFIX.get_or_init(|| doorway_core::secrets::random_bytes::<8>().iter().map(|b| format!("{b:02x}")).collect());
    format!("{prefix}-{:x}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable_request_id(id))
        .map_or_else(new_request_id, str::to_owned);
    // The route pattern (`/oauth/authorize`, `/{username}`), never the path a caller sent.
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    crate::metrics::request(method.as_str(), &route, status, elapsed);
    // At debug: a line per request costs more than serving discovery does. Operators who want
    // access logs set RUST_LOG=info,doorway::access=debug.
    span.in_scope(|| {
        tracing::debug!(target: "doorway::access", status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request");
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `/healthz`: the process is up and serving. Touches nothing else.
pub async fn healthz() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], "ok\n").into_response()
}

/// `/readyz`: the database answers and has every migration this binary needs; 503 otherwise,
/// so a load balancer stops sending this node requests it cannot serve.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (status, body) = match tokio::time::timeout(READY_TIMEOUT, state.store.pending_migrations()).await {
        Ok(Ok(pending)) if pending.is_empty() => (StatusCode::OK, serde_json::json!({ "status": "ready" })),
        Ok(Ok(pending)) => {
            (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "status": "migrations_pending", "pending": pending }))
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "not ready: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "status": "database_unavailable" }))
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "status": "database_unavailable" }))
        }
    };
    (status, [(header::CACHE_CONTROL, "no-store"), (header::CONTENT_TYPE, "application/json")], body.to_string())
        .into_response()
}

/// The metrics listener's router: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route(doorway_core::routes::METRICS, get(metrics)).with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = crate::metrics::render(&state.store);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}
