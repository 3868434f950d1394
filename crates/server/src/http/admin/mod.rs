//! The admin API: JSON under `/api/v1` for operators' scripts — users, apps, grants, signing
//! keys and the scope registry — authenticated by admin API tokens only (see [`auth`]), and its
//! OpenAPI 3.1 document at `/api/openapi.json`. Every route is declared once, in
//! [`routes::ROUTES`]; the router and the document are both built from that table.
//!
//! Never returns a secret except the one just created (a new app's or a rotated secret, a
//! generated password), and never accepts a browser session.

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use base64ct::{Base64UrlUnpadded, Encoding};
use doorway_core::routes::{ADMIN_API, ADMIN_OPENAPI};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::state::AppState;

pub mod apps;
pub mod audit;
pub mod auth;
pub mod error;
pub mod grants;
pub mod keys;
pub mod openapi;
pub mod orgs;
pub mod routes;
pub mod scopes;
pub mod users;

use error::ApiError;

/// The admin API's routes, its document, and a JSON 404 for any other path under `/api/v1`.
pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for route in routes::ROUTES {
        // Routes on one path merge into one method router (axum joins them).
        router = router.route(route.path, (route.handler)(route.method.filter()));
    }
    router.route(ADMIN_OPENAPI, get(openapi::document)).route(&format!("{ADMIN_API}/{{*rest}}"), any(unknown_endpoint))
}

async fn unknown_endpoint() -> ApiError {
    ApiError::not_found("endpoint")
}

/// A JSON body. An empty body reads as `{}` (for operations whose fields are all optional);
/// malformed JSON is 400, a well-formed body with a wrong or missing field 422.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
        let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024)
            .await
            .map_err(|_| ApiError::bad_request("the request body is too large"))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        if bytes != b"{}" && json != Some(true) {
            return Err(ApiError::unsupported_media_type());
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))?;
        // PostgreSQL cannot store a NUL in text: refused here rather than failing a query.
        if has_nul(&value) {
            return Err(ApiError::invalid("a string in the body contains a NUL character"));
        }
        serde_json::from_value(value).map(Self).map_err(|err| ApiError::invalid(err.to_string()))
    }
}

fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Path parameters; a segment that does not decode (`%FF`: not UTF-8) is a JSON 400, like
/// every other error of the API.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // PostgreSQL cannot compare text with a NUL in it: refused before any lookup.
        if parts.uri.path().contains("%00") {
            return Err(ApiError::bad_request("the path is not valid: a segment contains a NUL character"));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::bad_request("the path is not valid: a segment does not decode to UTF-8 text")),
        }
    }
}

/// A JSON response with `Cache-Control: no-store` (admin data and one-time secrets).
pub fn json<T: Serialize>(status: axum::http::StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => (status, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], text)
            .into_response(),
        Err(err) => ApiError::from(anyhow::Error::from(err)).into_response(),
    }
}

/// A page of a listing: `next_cursor` is absent on the last page.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `limit` and `cursor`, checked.
pub struct Paging {
    pub limit: i64,
    /// Decoded: (created_at, id) of the last item of the previous page.
    pub after: Option<(i64, String)>,
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

impl Paging {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut paging = Self { limit: DEFAULT_LIMIT, after: None };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    paging.limit =
                        value.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                            ApiError::invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}"))
                        })?;
                }
                "cursor" if !value.is_empty() => {
                    paging.after = Some(decode_cursor(&value).ok_or_else(|| ApiError::invalid("cursor is not valid"))?);
                }
                _ => {}
            }
        }
        Ok(paging)
    }
}

/// An opaque cursor for "after (created_at, id)".
pub fn encode_cursor(created_at: i64, id: &str) -> String {
    Base64UrlUnpadded::encode_string(format!("{created_at}:{id}").as_bytes())
}

fn decode_cursor(raw: &str) -> Option<(i64, String)> {
    let bytes = Base64UrlUnpadded::decode_vec(raw).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (created_at, id) = text.split_once(':')?;
    Some((created_at.parse().ok()?, id.to_owned()))
}

/// An optional field of a PATCH body: absent (leave it), `null` (clear it), or a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Self::Value(value),
            None => Self::Null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = encode_cursor(1_700_000_000, "5f0c-id");
        assert_eq!(decode_cursor(&cursor), Some((1_700_000_000, "5f0c-id".to_owned())));
        assert_eq!(decode_cursor("not base64!"), None);
        assert_eq!(decode_cursor(&Base64UrlUnpadded::encode_string(b"no-colon")), None);
    }

    #[test]
    fn paging_checks_its_limit() {
        assert_eq!(Paging::parse(None).map(|p| p.limit).ok(), Some(DEFAULT_LIMIT));
        assert_eq!(Paging::parse(Some("limit=2")).map(|p| p.limit).ok(), Some(2));
        assert!(Paging::parse(Some("limit=0")).is_err());
        assert!(Paging::parse(Some("limit=201")).is_err());
        assert!(Paging::parse(Some("limit=x")).is_err());
        assert!(Paging::parse(Some("cursor=%%%")).is_err());
    }

    #[test]
    fn every_route_is_unique_and_under_the_api_prefix() {
        let mut seen = std::collections::HashSet::new();
        for route in routes::ROUTES {
            assert!(route.path.starts_with(ADMIN_API), "{}", route.path);
            assert!(seen.insert((route.method, route.path)), "{:?} {} twice", route.method, route.path);
        }
        let ids: std::collections::HashSet<_> = routes::ROUTES.iter().map(|r| r.operation_id).collect();
        assert_eq!(ids.len(), routes::ROUTES.len(), "operation ids are unique");
    }
}
