//! Request bodies and query strings as raw parameter lists (duplicates kept, so the protocol
//! core can refuse them), and typed page forms whose failures render a page.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use doorway_core::OAuthError;
use doorway_core::oauth::params::Params;
use serde::de::DeserializeOwned;

use crate::http::error::{JsonError, PageError};
use crate::state::AppState;

fn parse_urlencoded(bytes: &[u8]) -> Params {
    Params::new(url::form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// PostgreSQL can neither store nor compare a NUL in text (the query fails: a 500), and no
/// field of any form, query or protocol message has a use for one: refused at the edge.
fn contains_nul(params: &Params) -> bool {
    params.pairs().iter().any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

const NUL_REFUSED: &str = "The request contains a NUL character, which no field accepts.";

/// A path whose segments decode to a NUL (`%00`), refused for the same reason.
fn path_has_nul(parts: &Parts) -> bool {
    parts.uri.path().contains("%00")
}

/// Path parameters for a page. A segment that does not decode (`%FF`: not UTF-8) gets the
/// readable 400 page, not axum's plain-text rejection.
pub struct PagePath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PagePath<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if path_has_nul(parts) {
            return Err(PageError::bad_request(NUL_REFUSED));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(PageError::bad_request("This address is not valid: part of it is not readable text.")),
        }
    }
}

/// A typed query string for a page: each field once. A missing, repeated or malformed field
/// renders the readable 400 page, never axum's plain-text "Failed to deserialize" rejection.
pub struct TypedQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for TypedQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded_like(parts.uri.query().unwrap_or_default().as_bytes()).map(Self).map_err(|_| {
            PageError::bad_request("This address is not valid: a parameter is missing, repeated or malformed.")
        })
    }
}

/// The query string's parameters.
pub struct QueryParams(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let params = parse_urlencoded(parts.uri.query().unwrap_or_default().as_bytes());
        if contains_nul(&params) {
            return Err(PageError::bad_request(NUL_REFUSED));
        }
        Ok(Self(params))
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"))
}

/// Whether the request declares an HTML form body (`application/x-www-form-urlencoded`).
fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// A page form's body, refused unless it is form-encoded: JSON, multipart or an undeclared
/// body is not what Doorway's forms send, and reading it as a form would act on a guess. An
/// empty body needs no type.
async fn form_body(req: Request) -> Result<axum::body::Bytes, PageError> {
    let form = is_form(&req);
    let bytes = body_bytes(req).await.ok_or_else(|| PageError::bad_request("The form is too large."))?;
    if !bytes.is_empty() && !form {
        return Err(PageError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported form",
            "This form must be sent as application/x-www-form-urlencoded, as the page itself sends it.",
        ));
    }
    Ok(bytes)
}

async fn body_bytes(req: Request) -> Option<axum::body::Bytes> {
    axum::body::to_bytes(req.into_body(), 64 * 1024).await.ok()
}

/// A form-encoded body's parameters, for the authorization endpoint (errors become pages).
pub struct FormParams(pub Params);

impl FromRequest<AppState> for FormParams {
    type Rejection = PageError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Self::Rejection> {
        let params = parse_urlencoded(&form_body(req).await?);
        if contains_nul(&params) {
            return Err(PageError::bad_request(NUL_REFUSED));
        }
        Ok(Self(params))
    }
}

/// The token endpoint's body: form-encoded (RFC 6749 §4.1.3), or a JSON object of strings,
/// which Hugging Face also accepts.
pub struct TokenParams(pub Params);

impl FromRequest<AppState> for TokenParams {
    type Rejection = JsonError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes =
            body_bytes(req).await.ok_or_else(|| OAuthError::invalid_request("the request body is too large"))?;
        let nul = || OAuthError::invalid_request("the request contains a NUL character").into();
        if !json {
            let params = parse_urlencoded(&bytes);
            return if contains_nul(&params) { Err(nul()) } else { Ok(Self(params)) };
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
            .map_err(|_| OAuthError::invalid_request("the JSON body must be an object"))?;
        let mut pairs = Vec::with_capacity(object.len());
        for (key, value) in object {
            match value {
                serde_json::Value::String(s) => pairs.push((key, s)),
                serde_json::Value::Null => {}
                _ => {
                    return Err(OAuthError::invalid_request(format!("{key} must be a string")).into());
                }
            }
        }
        let params = Params::new(pairs);
        if contains_nul(&params) {
            return Err(nul());
        }
        Ok(Self(params))
    }
}

/// A typed HTML form. A malformed submission renders a page, never a bare 422.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Self::Rejection> {
        serde_urlencoded_like(&form_body(req).await?).map(Self).map_err(|_| {
            PageError::bad_request("The form was incomplete or malformed. Go back, reload the page and try again.")
        })
    }
}

/// Deserialises a form body: each field once (a repeated field is refused).
fn serde_urlencoded_like<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ()> {
    let mut map = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        if k.contains('\0') || v.contains('\0') {
            return Err(());
        }
        if map.insert(k.into_owned(), serde_json::Value::String(v.into_owned())).is_some() {
            return Err(());
        }
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|_| ())
}
