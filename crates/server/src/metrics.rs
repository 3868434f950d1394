//! Prometheus metrics: one recorder per process, rendered at `/metrics` on the metrics listener
//! (`--metrics-listen`). Every label has a bounded set of values — matched routes, methods,
//! statuses, grant types, OAuth error codes — never a raw URL, a client id or a user.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "doorway_http_requests_total";
pub const HTTP_DURATION: &str = "doorway_http_request_duration_seconds";
pub const SIGN_INS: &str = "doorway_sign_ins_total";
pub const TOKENS_ISSUED: &str = "doorway_tokens_issued_total";
pub const OAUTH_ERRORS: &str = "doorway_oauth_errors_total";
pub const DB_CONNECTIONS: &str = "doorway_db_pool_connections";
pub const DB_MAX_CONNECTIONS: &str = "doorway_db_pool_max_connections";

/// Latency buckets (seconds): a page or a token is milliseconds; a sign-in spends ~10 ms hashing.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
/// Whether anything records: without a metrics listener nothing is exported, so requests skip
/// building label sets for a recorder that would drop them.
static ENABLED: AtomicBool = AtomicBool::new(false);

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The process's recorder, installed on first use. `None` if another recorder was installed
/// first (an embedding program's): Doorway then records into that one and renders nothing.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    ENABLED.store(true, Ordering::Relaxed);
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "a metrics recorder is already installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests by matched route, method and status");
    metrics::describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "HTTP request latency by route and method");
    metrics::describe_counter!(SIGN_INS, "Password sign-ins by result (success, failure)");
    metrics::describe_counter!(TOKENS_ISSUED, "Successful token endpoint responses by grant type");
    metrics::describe_counter!(OAUTH_ERRORS, "OAuth error responses by error code");
    metrics::describe_gauge!(DB_CONNECTIONS, "Database pool connections by state (in_use, idle)");
    metrics::describe_gauge!(DB_MAX_CONNECTIONS, "The database pool's maximum size");
}

/// Folds a method into a bounded set.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "other",
    }
}

pub fn request(method: &str, route: &str, status: u16, elapsed: Duration) {
    if !enabled() {
        return;
    }
    let method = method_label(method);
    metrics::counter!(HTTP_REQUESTS, "route" => route.to_owned(), "method" => method, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route.to_owned(), "method" => method).record(elapsed.as_secs_f64());
}

pub fn sign_in(success: bool) {
    if !enabled() {
        return;
    }
    metrics::counter!(SIGN_INS, "result" => if success { "success" } else { "failure" }).increment(1);
}

pub fn token_issued(grant: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(TOKENS_ISSUED, "grant" => grant).increment(1);
}

pub fn oauth_error(code: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(OAUTH_ERRORS, "error" => code).increment(1);
}

/// The exposition text, with the pool gauges read now.
pub fn render(store: &doorway_store::Store) -> String {
    let Some(handle) = handle() else { return String::new() };
    let pool = store.pool_stats();
    metrics::gauge!(DB_CONNECTIONS, "state" => "in_use").set(pool.in_use as f64);
    metrics::gauge!(DB_CONNECTIONS, "state" => "idle").set(pool.open.saturating_sub(pool.in_use) as f64);
    metrics::gauge!(DB_MAX_CONNECTIONS).set(pool.max as f64);
    handle.run_upkeep();
    handle.render()
}

/// Drains histogram samples between scrapes, so memory stays bounded when nobody scrapes.
pub fn upkeep() {
    if let Some(handle) = handle() {
        handle.run_upkeep();
    }
}
