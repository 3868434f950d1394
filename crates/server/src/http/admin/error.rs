//! The admin API's errors: JSON `{"error", "error_description"}` with the status that says what
//! went wrong. Internal causes are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use doorway_store::StoreError;

/// An admin API error as it goes on the wire.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable, machine-readable code (`invalid_token`, `not_found`, …).
    pub code: &'static str,
    pub description: String,
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3).
    challenge: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self { status, code, description: description.into(), challenge: None }
    }

    /// RFC 6750 §3.1: no credentials at all: a bare challenge, no error code in it.
    pub fn missing_token() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an admin API token is required: Authorization: Bearer dwa_…",
        );
        error.challenge = Some("Bearer realm=\"doorway-admin\"");
        error
    }

    /// RFC 6750 §3.1: unknown, revoked or malformed credentials.
    pub fn invalid_token() -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", "the admin API token is not valid");
        error.challenge = Some("Bearer realm=\"doorway-admin\", error=\"invalid_token\"");
        error
    }

    /// RFC 6750 §3.1: a read-only token asked to write.
    pub fn read_only() -> Self {
        let mut error =
            Self::new(StatusCode::FORBIDDEN, "insufficient_scope", "this admin API token may only read (read-only)");
        error.challenge = Some("Bearer realm=\"doorway-admin\", error=\"insufficient_scope\"");
        error
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    /// The request was understood but a field is invalid; the description names the field.
    pub fn invalid(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", description)
    }

    /// The body is not JSON at all.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request", "send the body as application/json")
    }

    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", description)
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the server could not complete the request")
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Self::conflict(format!("{what} is already taken")),
            StoreError::Unavailable(_) => {
                tracing::error!(error = %err, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the service is temporarily unavailable; retry shortly",
                )
            }
            _ => {
                tracing::error!(error = %err, "database error");
                Self::internal()
            }
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        tracing::error!(error = %err, "internal error in the admin API");
        Self::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "error_description": self.description }).to_string();
        let mut response =
            (self.status, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body)
                .into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
