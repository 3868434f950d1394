//! The authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2) as an ordered pipeline.
//!
//! Order matters: the client and the redirect URI are verified first, and until both are,
//! every error is shown to the person (never redirected). After that, errors go back to the
//! verified redirect URI with `state` and `iss` (RFC 9207).

use crate::error::{ErrorCode, OAuthError};
use crate::model::Client;
use crate::oauth::grant::GrantType;
use crate::oauth::params::Params;
use crate::types::{CodeChallenge, Scope, ScopeSet, VerifiedRedirect};

/// Parameters Doorway reads at the authorization endpoint; a duplicate of any is an error.
const KNOWN: &[&str] = &[
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "request",
    "request_uri",
    "ui_locales",
    "display",
    "acr_values",
    "claims",
];

/// Longest `state` and `nonce` accepted: enough for JSON state blobs, short of abuse.
const MAX_OPAQUE_LEN: usize = 4096;

/// The `prompt` values of OIDC Core §3.1.2.1 that change what Doorway does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

impl Prompt {
    fn parse(raw: Option<&str>) -> Result<Self, OAuthError> {
        let mut prompt = Prompt::default();
        let Some(raw) = raw else { return Ok(prompt) };
        let mut count = 0;
        for value in raw.split(' ').filter(|v| !v.is_empty()) {
            count += 1;
            match value {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => {
                    return Err(OAuthError::invalid_request(format!("unsupported prompt value '{other}'")));
                }
            }
        }
        // OIDC Core §3.1.2.1: none with any other value is an error.
        if prompt.none && count > 1 {
            return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
        }
        Ok(prompt)
    }
}

/// How the response travels back (OAuth 2.0 Multiple Response Types §2.1, Form Post Response
/// Mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// A redirect with the parameters in the query string.
    #[default]
    Query,
    /// An auto-submitting HTML form that POSTs the parameters to the redirect URI.
    FormPost,
}

impl ResponseMode {
    fn parse(raw: Option<&str>) -> Result<Self, OAuthError> {
        match raw {
            None | Some("query") => Ok(Self::Query),
            Some("form_post") => Ok(Self::FormPost),
            Some(other) => Err(OAuthError::invalid_request(format!(
                "response_mode '{other}' is not supported (use query or form_post)"
            ))),
        }
    }
}

/// A fully validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect: VerifiedRedirect,
    pub response_mode: ResponseMode,
    /// An ID token Doorway issued earlier, naming the user the app expects (OIDC Core
    /// §3.1.2.1); verified by the caller, which holds the keys.
    pub id_token_hint: Option<String>,
    pub scopes: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

impl AuthorizationRequest {
    pub fn is_openid(&self) -> bool {
        self.scopes.contains(Scope::OPENID)
    }
}

/// An error that may be redirected: it has a verified destination and the request's state.
#[derive(Debug, Clone)]
pub struct RedirectError {
    pub redirect: VerifiedRedirect,
    pub state: Option<String>,
    pub error: OAuthError,
    pub mode: ResponseMode,
}

impl RedirectError {
    /// The response parameters: `error`, `error_description`, `state`, `iss` (RFC 9207).
    pub fn response_params<'a>(&'a self, issuer: &'a str) -> Vec<(&'static str, &'a str)> {
        let mut params =
            vec![("error", self.error.code.as_str()), ("error_description", self.error.description.as_str())];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        params.push(("iss", issuer));
        params
    }

    /// The `Location` for this error in query mode.
    pub fn location(&self, issuer: &str) -> String {
        self.redirect.with_params(&self.response_params(issuer))
    }
}

/// Step 1: the client id, before anything else. Errors here are shown, never redirected.
pub fn client_id(params: &Params) -> Result<&str, OAuthError> {
    params.get("client_id")?.ok_or_else(|| OAuthError::invalid_request("client_id is missing"))
}

/// Step 2: the redirect URI against the app's registration. Errors here are shown, never
/// redirected.
pub fn verify_redirect(params: &Params, client: &Client) -> Result<VerifiedRedirect, OAuthError> {
    let presented = params.get("redirect_uri")?;
    // OIDC Core §3.1.2.1: redirect_uri is REQUIRED in OpenID requests. Looking at the raw
    // scope is enough here; it is fully validated in step 3.
    let openid = params.get("scope").ok().flatten().is_some_and(|s| s.split(' ').any(|v| v == Scope::OPENID));
    if presented.is_none() && openid {
        return Err(OAuthError::invalid_request("redirect_uri is required in OpenID Connect requests"));
    }
    client.redirect_policy.verify(&client.redirect_uris, presented).map_err(OAuthError::invalid_request)
}

/// Step 3: everything else. From here on, errors travel back to the verified redirect.
pub fn validate(
    params: &Params,
    client: &Client,
    redirect: VerifiedRedirect,
    known_scopes: &ScopeSet,
) -> Result<AuthorizationRequest, Box<RedirectError>> {
    // A duplicated state cannot be echoed faithfully: then none is echoed.
    let state = params.get("state").ok().flatten().map(str::to_owned);
    // Read first, so that every later error travels the way the client asked.
    let mode_result = params.get("response_mode").and_then(ResponseMode::parse);
    let mode = mode_result.clone().unwrap_or_default();
    let fail =
        |error: OAuthError| Box::new(RedirectError { redirect: redirect.clone(), state: state.clone(), error, mode });
    mode_result.map_err(&fail)?;

    if let Some(err) = params.first_duplicate(KNOWN) {
        return Err(fail(err));
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_OPAQUE_LEN) {
        return Err(fail(OAuthError::invalid_request("state is too long")));
    }
    // OIDC Core §6: request objects are not supported, and say so with the dedicated codes.
    if params.has("request") {
        return Err(fail(OAuthError::new(ErrorCode::RequestNotSupported, "request objects are not supported")));
    }
    if params.has("request_uri") {
        return Err(fail(OAuthError::new(ErrorCode::RequestUriNotSupported, "request_uri is not supported")));
    }
    // RFC 6749 §4.1.1 / §4.1.2.1: only the code flow.
    // RFC 6749 §4.1.2.1: an app registered without the code grant may not ask for a code.
    if !client.grant_types.allows(GrantType::AuthorizationCode) {
        return Err(fail(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this app is not allowed the authorization_code grant",
        )));
    }
    match params.get("response_type").map_err(&fail)? {
        None => {
            return Err(fail(OAuthError::invalid_request("response_type is missing")));
        }
        Some("code") => {}
        Some(_) => {
            return Err(fail(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )));
        }
    }
    // RFC 6749 §3.3: unknown scopes, and scopes the app was not registered for, are refused.
    let scopes = match params.get("scope").map_err(&fail)? {
        None => return Err(fail(OAuthError::invalid_scope("scope is missing"))),
        Some(raw) => ScopeSet::parse(raw).map_err(|e| fail(OAuthError::invalid_scope(e)))?,
    };
    if scopes.is_empty() {
        return Err(fail(OAuthError::invalid_scope("scope is missing")));
    }
    if let Some(unknown) = scopes.missing_from(known_scopes).next() {
        return Err(fail(OAuthError::invalid_scope(format!("unknown scope '{unknown}'"))));
    }
    if let Some(not_allowed) = scopes.missing_from(&client.scopes).next() {
        return Err(fail(OAuthError::invalid_scope(format!("this app is not allowed the scope '{not_allowed}'"))));
    }
    // RFC 7636 §4.3, §4.4.1: S256 only; a challenge without a method would mean plain.
    let method = params.get("code_challenge_method").map_err(&fail)?;
    let code_challenge = match (params.get("code_challenge").map_err(&fail)?, method) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(OAuthError::invalid_request("code_challenge_method without code_challenge")));
        }
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(fail(OAuthError::invalid_request(
                "code_challenge_method must be S256; plain is not supported",
            )));
        }
        (Some(challenge), Some("S256")) => {
            Some(CodeChallenge::parse(challenge).map_err(|e| fail(OAuthError::invalid_request(e)))?)
        }
        (Some(_), Some(_)) => {
            return Err(fail(OAuthError::invalid_request("unsupported code_challenge_method; use S256")));
        }
    };
    if code_challenge.is_none() && client.pkce_required() {
        return Err(fail(OAuthError::invalid_request("this app must use PKCE: send code_challenge with S256")));
    }
    let nonce = params.get("nonce").map_err(&fail)?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_OPAQUE_LEN) {
        return Err(fail(OAuthError::invalid_request("nonce is too long")));
    }
    let prompt = Prompt::parse(params.get("prompt").map_err(&fail)?).map_err(&fail)?;
    let max_age = match params.get("max_age").map_err(&fail)? {
        None => None,
        Some(raw) => Some(
            raw.parse::<u32>()
                .map(i64::from)
                .map_err(|_| fail(OAuthError::invalid_request("max_age must be a non-negative integer")))?,
        ),
    };
    let login_hint = params.get("login_hint").map_err(&fail)?.map(|h| h.chars().take(256).collect());

    let id_token_hint = params.get("id_token_hint").map_err(&fail)?.map(str::to_owned);
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect,
        response_mode: mode,
        id_token_hint,
        scopes,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
    })
}

/// What the browser session looks like to the decision.
#[derive(Debug, Clone, Copy)]
pub struct SessionState {
    pub auth_time: i64,
    /// The person signed in during this very authorization request (so `prompt=login` and
    /// `max_age` are satisfied and must not loop).
    pub fresh_login: bool,
    /// A verified `id_token_hint` names someone other than the signed-in person.
    pub hint_names_other_user: bool,
}

/// What happens next for a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Login,
    Consent,
    Issue,
    Fail(OAuthError),
}

/// Decides between login, consent and issuing a code (OIDC Core §3.1.2.3, §3.1.2.4).
pub fn decide(request: &AuthorizationRequest, session: Option<SessionState>, consent_covers: bool, now: i64) -> Next {
    let needs_login = match session {
        None => true,
        Some(s) if s.fresh_login => false,
        // OIDC Core §3.1.2.1: "max_age=0 is equivalent to prompt=login", even within the
        // second of the last sign-in (auth_time has one-second resolution).
        Some(s) => {
            request.prompt.login
                || s.hint_names_other_user
                || request.max_age.is_some_and(|max| max == 0 || now - s.auth_time > max)
        }
    };
    if needs_login {
        return if request.prompt.none {
            let why = if session.is_some() { "the user must sign in again" } else { "the user is not signed in" };
            Next::Fail(OAuthError::new(ErrorCode::LoginRequired, why))
        } else {
            Next::Login
        };
    }
    if request.prompt.consent || !consent_covers {
        return if request.prompt.none {
            Next::Fail(OAuthError::new(ErrorCode::ConsentRequired, "the user has not approved this app"))
        } else {
            Next::Consent
        };
    }
    Next::Issue
}

#[cfg(test)]
mod tests;
