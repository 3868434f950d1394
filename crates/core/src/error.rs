//! The wire errors of OAuth 2 (RFC 6749 §4.1.2.1, §5.2), bearer tokens (RFC 6750 §3.1) and
//! OpenID Connect (Core §3.1.2.6). Internal causes never travel in these: they are logged.

use std::fmt;

/// One registered OAuth error code. `as_str` and `status` are the single source of truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AccountSelectionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    /// RFC 8628 §3.5: the device authorization is still waiting for the user.
    AuthorizationPending,
    /// RFC 8628 §3.5: polled sooner than the interval allows.
    SlowDown,
    /// RFC 8628 §3.5: the device code has expired.
    ExpiredToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
        }
    }

    /// The HTTP status when this error is the body of a direct response (token, userinfo).
    pub fn status(self) -> u16 {
        match self {
            // RFC 6749 §5.2: invalid_client may be 401; Doorway always answers 401 for it.
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it is sent to a client: a code and a human-readable description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// Set when the client is refused for a while (too many failed authentications): the
    /// answer is then `429 Too Many Requests` with `Retry-After: <seconds>`.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), retry_after: None }
    }
    /// Too many failed client authentications: refused, whatever the credentials, for
    /// `retry_after` seconds. RFC 6749 has no code for this; `temporarily_unavailable` (IANA
    /// OAuth Extensions Error registry) is the registered one meaning "try again later", which
    /// is what client libraries should do. Not `invalid_client` (the credentials were not
    /// checked and may be right: an operator must not rotate a good secret over it) and not
    /// `slow_down` (RFC 8628 §3.5: a device client would only lengthen its polling interval).
    pub fn too_many_attempts(retry_after: u64) -> Self {
        Self {
            code: ErrorCode::TemporarilyUnavailable,
            description: format!("too many failed client authentications; try again in {retry_after} seconds"),
            retry_after: Some(retry_after),
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}
