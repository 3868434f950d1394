//! Error responses: OAuth JSON errors for machines (RFC 6749 §5.2, RFC 6750 §3), readable
//! pages for people. Internal causes are logged here and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use doorway_core::{ErrorCode, OAuthError};
use doorway_store::StoreError;

/// An OAuth error as a JSON response from the token endpoint.
#[derive(Debug)]
pub struct JsonError {
    pub error: OAuthError,
    /// The client used HTTP Basic: a 401 then carries `WWW-Authenticate: Basic`.
    pub basic: bool,
}

impl From<OAuthError> for JsonError {
    fn from(error: OAuthError) -> Self {
        Self { error, basic: false }
    }
}

impl From<StoreError> for JsonError {
    fn from(err: StoreError) -> Self {
        Self { error: store_error(&err), basic: false }
    }
}

/// Logs a store failure and maps it to the error a client may see.
pub fn store_error(err: &StoreError) -> OAuthError {
    match err {
        StoreError::Unavailable(_) => {
            tracing::error!(error = %err, "database unavailable");
            OAuthError::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable; retry shortly")
        }
        _ => {
            tracing::error!(error = %err, "database error");
            OAuthError::server_error()
        }
    }
}

pub fn json_body(error: &OAuthError) -> String {
    serde_json::json!({ "error": error.code.as_str(), "error_description": error.description }).to_string()
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        crate::metrics::oauth_error(self.error.code.as_str());
        let status = match self.error.retry_after {
            Some(_) => StatusCode::TOO_MANY_REQUESTS,
            None => StatusCode::from_u16(self.error.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
        };
        let mut response = (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            json_body(&self.error),
        )
            .into_response();
        if let Some(seconds) = self.error.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED && self.basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"doorway\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// A page shown to a person, with a 4xx/5xx status.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, title: title.into(), message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "This request cannot be completed", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Page not found", "There is nothing at this address.")
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again in a moment.")
    }

    /// From an OAuth error that cannot be redirected (client or redirect URI unverified).
    pub fn from_oauth(error: &OAuthError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "This sign-in request is invalid",
            format!("{} ({})", error.description, error.code.as_str()),
        )
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        match store_error(&err).code {
            ErrorCode::TemporarilyUnavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The service cannot reach its database right now. Please try again shortly.",
            ),
            _ => Self::internal(),
        }
    }
}

impl From<anyhow::Error> for PageError {
    fn from(err: anyhow::Error) -> Self {
        // A database outage behind another layer (key reloads, the demo) is still a 503.
        match err.downcast::<StoreError>() {
            Ok(store) => store.into(),
            Err(err) => {
                tracing::error!(error = %err, "internal error");
                Self::internal()
            }
        }
    }
}

impl From<minijinja::Error> for PageError {
    fn from(err: minijinja::Error) -> Self {
        tracing::error!(error = %err, "template error");
        Self::internal()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = crate::ui::render_error_page(&self.title, &self.message);
        (self.status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
    }
}

/// A panic in a handler is a bug; the person still gets a page, not a dropped connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    PageError::internal().into_response()
}
