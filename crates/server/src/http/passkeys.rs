//! The passkey ceremonies, as JSON for `static/passkeys.js`: registering a passkey (signed in)
//! and signing in with one alone (discoverable credentials, WebAuthn §5.1.4 / §7.2). Every call
//! carries the page's CSRF token in `X-CSRF-Token` (double submit, as the forms do). Ceremonies
//! are single use and five minutes long: a registration's state lives in the database, a
//! sign-in's travels sealed to the browser (see `crate::webauthn`), so anonymous starts store
//! nothing. Adding a passkey needs a recent sign-in.
//! A failure is always a JSON 4xx with `error` and `error_description`, never a 500.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use doorway_core::secrets::hash_secret;
use doorway_store::{CeremonyPurpose, StoreError, StoredPasskey};
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    Webauthn,
};

use crate::audit::{self, Event, Origin, kind};
use crate::http::error::PageError;
use crate::http::session::{MaybeUser, check_csrf};
use crate::state::{AppState, now};
use crate::webauthn::{self as rp, Taken};

pub const REGISTER_START: &str = "/settings/passkeys/register/start";
pub const REGISTER_FINISH: &str = "/settings/passkeys/register/finish";
pub const SIGN_IN_START: &str = "/login/passkey/start";
pub const SIGN_IN_FINISH: &str = "/login/passkey/finish";
pub const SCRIPT: &str = "/static/passkeys.js";

/// Longest passkey name.
pub const MAX_NAME: usize = 64;
/// Most passkeys one account may register (a bound on what one account can store).
pub const MAX_PER_USER: usize = 20;

/// A JSON error for the script.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }

    fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }

    fn unavailable() -> Self {
        Self::bad_request(
            "passkeys_unavailable",
            "Passkeys are not available on this server: WebAuthn needs the issuer to be a domain name, not an IP address.",
        )
    }

    fn expired() -> Self {
        Self::bad_request("ceremony_expired", "This passkey request has expired or was already used. Try again.")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        (self.status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        PageError::from(err).into()
    }
}

impl From<PageError> for ApiError {
    fn from(err: PageError) -> Self {
        let error = if err.status.is_server_error() { "server_error" } else { "invalid_request" };
        Self::new(err.status, error, err.message)
    }
}

/// The relying party, or the clear refusal of an IP-address issuer.
fn relying_party(state: &AppState) -> Result<Webauthn, ApiError> {
    rp::relying_party(&state.config).ok_or_else(ApiError::unavailable)
}

/// A passkey signs in alone, so adding one needs a recent sign-in (see
/// [`crate::http::two_factor::RECENT_SIGN_IN`]): a stolen or forgotten session cannot plant a
/// way back in that outlives it.
fn recent_sign_in(session: &doorway_core::model::Session) -> Result<(), ApiError> {
    if crate::http::two_factor::signed_in_recently(session, now()) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "reauthentication_required",
        "For your security, sign in again before adding a passkey.",
    ))
}

/// The double-submit check with the token from the `X-CSRF-Token` header.
fn csrf(state: &AppState, jar: &CookieJar, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    check_csrf(state, jar, presented).map_err(|_| {
        ApiError::new(StatusCode::FORBIDDEN, "invalid_csrf_token", "The page is out of date. Reload it and try again.")
    })
}

/// What a sign-in ceremony is bound to: the browser's CSRF cookie (empty when absent, which
/// `csrf` refuses before any ceremony is sealed or opened).
fn csrf_binding(state: &AppState, jar: &CookieJar) -> String {
    jar.get(crate::http::session::names(state).csrf).map(|c| c.value().to_owned()).unwrap_or_default()
}

/// The request body, or a 400 that says why it is not JSON of the expected shape.
fn body<T: serde::de::DeserializeOwned>(raw: Result<Json<Value>, JsonRejection>) -> Result<T, ApiError> {
    let Json(value) = raw.map_err(|e| ApiError::bad_request("invalid_request", e.body_text()))?;
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_request", format!("invalid body: {e}")))
}

fn json_ok(value: Value) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(value)).into_response()
}

/// A passkey's name as typed: trimmed, at most [`MAX_NAME`] characters, no control characters.
pub fn parse_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err("A passkey's name is at most 64 characters.");
    }
    Ok(name.to_owned())
}

/// `POST /settings/passkeys/register/start`: creation options for `navigator.credentials.create`.
pub async fn register_start(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    MaybeUser(user): MaybeUser,
) -> Result<Response, ApiError> {
    let webauthn = relying_party(&state)?;
    csrf(&state, &jar, &headers)?;
    let Some(current) = user else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "login_required", "Sign in to add a passkey."));
    };
    recent_sign_in(&current.session)?;
    let user = &current.user;
    let existing = state.store.list_passkeys(&user.id).await?;
    if existing.len() >= MAX_PER_USER {
        return Err(ApiError::bad_request("too_many_passkeys", "Remove a passkey before adding another."));
    }
    // WebAuthn §5.4.3: the authenticator must not create a second credential for this account.
    let exclude = existing
        .iter()
        .filter_map(|p| serde_json::from_str::<Passkey>(&p.passkey).ok())
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let (options, registration) = webauthn
        .start_passkey_registration(rp::user_handle(&user.id), &user.username, user.display_name(), Some(exclude))
        .map_err(|e| {
            tracing::error!(error = %e, "starting a passkey registration failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Please try again.")
        })?;
    let mut options = serde_json::to_value(options).map_err(|_| PageError::internal())?;
    // A passkey that signs in alone must be discoverable (a resident key, WebAuthn §6.2.2),
    // which webauthn-rs only prefers: require it.
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(Value::as_object_mut) {
        selection.insert("residentKey".into(), json!("required"));
        selection.insert("requireResidentKey".into(), json!(true));
    }
    let ceremony = rp::stash(&state.store, CeremonyPurpose::Register, Some(&user.id), &registration, now()).await?;
    Ok(json_ok(json!({ "ceremony": ceremony, "options": options })))
}

#[derive(Deserialize)]
struct RegisterFinish {
    ceremony: String,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /settings/passkeys/register/finish`: checks the new credential and stores it.
pub async fn register_finish(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    raw: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let webauthn = relying_party(&state)?;
    csrf(&state, &jar, &headers)?;
    let Some(current) = user else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "login_required", "Sign in to add a passkey."));
    };
    recent_sign_in(&current.session)?;
    let form: RegisterFinish = body(raw)?;
    let name = parse_name(&form.name).map_err(|e| ApiError::bad_request("invalid_name", e))?;
    let now = now();
    let registration: PasskeyRegistration =
        match rp::take(&state.store, &form.ceremony, CeremonyPurpose::Register, now).await? {
            // A ceremony started by another account is no ceremony of this one.
            Taken::Found { user_id, state } if user_id.as_deref() == Some(current.user.id.as_str()) => state,
            _ => return Err(ApiError::expired()),
        };
    if form.credential.extensions.cred_props.as_ref().and_then(|p| p.rk) == Some(false) {
        return Err(ApiError::bad_request(
            "not_discoverable",
            "This authenticator cannot keep a passkey that signs you in without a username. Use another one.",
        ));
    }
    let passkey = webauthn.finish_passkey_registration(&form.credential, &registration).map_err(|e| {
        tracing::warn!(target: "security", error = %e, "a passkey registration was refused");
        ApiError::bad_request("registration_failed", "The passkey could not be verified. Try again.")
    })?;
    let serialized = serde_json::to_string(&passkey).map_err(|_| PageError::internal())?;
    let count = state.store.list_passkeys(&current.user.id).await?.len();
    let name = if name.is_empty() { format!("Passkey {}", count + 1) } else { name };
    let stored = StoredPasskey {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: current.user.id.clone(),
        credential_id: rp::credential_key(passkey.cred_id().as_ref()),
        passkey: serialized,
        name: name.clone(),
        created_at: now,
        last_used_at: None,
    };
    match state.store.add_passkey(&stored).await {
        Ok(()) => {}
        // WebAuthn §7.1 step 22: a credential id registered before (to anyone) is refused.
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_registered",
                "This passkey is already registered.",
            ));
        }
        Err(err) => return Err(err.into()),
    }
    let event = Event::new(kind::PASSKEY_ADDED)
        .by_user(&current.user.id)
        .detail(json!({ "passkey_id": stored.id, "name": name }));
    audit::record(&state, &origin, event, now).await;
    tracing::info!(user_id = %current.user.id, "passkey added");
    Ok(json_ok(json!({ "id": stored.id, "name": name })))
}

/// `POST /login/passkey/start`: request options for `navigator.credentials.get`, with no
/// allowed credentials (the browser offers every passkey it holds for this RP).
pub async fn sign_in_start(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let webauthn = relying_party(&state)?;
    csrf(&state, &jar, &headers)?;
    let (options, authentication) = webauthn.start_discoverable_authentication().map_err(|e| {
        tracing::error!(error = %e, "starting a passkey sign-in failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Please try again.")
    })?;
    // Nothing is stored (see `rp::seal_sign_in`): the state goes to the browser, sealed and
    // bound to its CSRF cookie, which `csrf` just checked is present.
    let ceremony = rp::seal_sign_in(&state.keys, &csrf_binding(&state, &jar), &authentication, now())
        .ok_or_else(|| ApiError::from(PageError::internal()))?;
    Ok(json_ok(json!({ "ceremony": ceremony, "options": options })))
}

#[derive(Deserialize)]
struct SignInFinish {
    ceremony: String,
    credential: PublicKeyCredential,
    interaction: Option<String>,
    next: Option<String>,
}

/// `POST /login/passkey/finish`: verifies the assertion, then signs in like a password does
/// ([`crate::http::account::finish_sign_in`]), answering `{"redirect": …}` for the script.
pub async fn sign_in_finish(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    origin: Origin,
    raw: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let webauthn = relying_party(&state)?;
    csrf(&state, &jar, &headers)?;
    let form: SignInFinish = body(raw)?;
    let now = now();
    let Some((authentication, expires_at)) =
        rp::open_sign_in::<DiscoverableAuthentication>(&state.keys, &csrf_binding(&state, &jar), &form.ceremony, now)
    else {
        return Err(ApiError::expired());
    };
    let refused = |reason: &'static str| {
        ApiError::bad_request(
            "passkey_refused",
            match reason {
                "disabled" => "This account is disabled.",
                "unknown" => "This passkey is not registered here any more. Sign in with your password.",
                _ => "The passkey could not be verified. Try again.",
            },
        )
    };
    let (handle, credential_id) =
        webauthn.identify_discoverable_authentication(&form.credential).map_err(|_| refused("verification"))?;
    let credential_key = rp::credential_key(credential_id);
    let Some(stored) = state.store.find_passkey_by_credential(&credential_key).await? else {
        failed(&state, &origin, None, "unknown_passkey", now).await;
        return Err(refused("unknown"));
    };
    // The user handle the authenticator returned must be the account the credential belongs
    // to (WebAuthn §7.2 step 6).
    if handle != rp::user_handle(&stored.user_id) {
        failed(&state, &origin, Some(&stored.user_id), "user_handle_mismatch", now).await;
        return Err(refused("verification"));
    }
    let mut passkey: Passkey = serde_json::from_str(&stored.passkey).map_err(|e| {
        tracing::error!(error = %e, passkey_id = %stored.id, "a stored passkey does not parse");
        ApiError::from(PageError::internal())
    })?;
    let result = match webauthn.finish_discoverable_authentication_v2(&form.credential, authentication, &passkey) {
        Ok(result) => result,
        Err(e) => {
            tracing::warn!(target: "security", error = %e, "a passkey sign-in was refused");
            failed(&state, &origin, Some(&stored.user_id), "verification_failed", now).await;
            return Err(refused("verification"));
        }
    };
    let user = state.store.find_user(&stored.user_id).await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        failed(&state, &origin, Some(&stored.user_id), "disabled", now).await;
        return Err(refused("disabled"));
    };
    // Single use (WebAuthn §13.4.3: a challenge is answered once): of two finishes carrying
    // the same verified assertion, only one signs in.
    if !state.store.mark_passkey_sign_in_used(&hash_secret(&form.ceremony), expires_at).await? {
        failed(&state, &origin, Some(&stored.user_id), "replayed", now).await;
        return Err(ApiError::expired());
    }
    // The signature counter and backup state move with every use (WebAuthn §7.2 steps 21–22).
    passkey.update_credential(&result);
    let serialized = serde_json::to_string(&passkey).map_err(|_| PageError::internal())?;
    if !state.store.record_passkey_use(&stored.id, &stored.passkey, &serialized, now).await? {
        failed(&state, &origin, Some(&stored.user_id), "concurrent_use", now).await;
        return Err(refused("verification"));
    }
    let interaction = form.interaction.as_deref().filter(|i| !i.is_empty());
    let next = crate::http::account::allowed_next(form.next.as_ref());
    let response =
        crate::http::account::finish_sign_in(&state, jar, &origin, &user.id, interaction, next, "passkey").await?;
    Ok(redirect_as_json(response))
}

/// Records a refused passkey sign-in (for the account, when the credential named one).
async fn failed(state: &AppState, origin: &Origin, user_id: Option<&str>, reason: &str, now: i64) {
    tracing::warn!(target: "security", event = "passkey_sign_in_failed", reason, "a passkey sign-in failed");
    crate::metrics::sign_in(false);
    let mut event = Event::new(kind::PASSKEY_SIGN_IN_FAILED).detail(json!({ "reason": reason }));
    if let Some(user_id) = user_id {
        event = event.user(user_id);
    }
    audit::record(state, origin, event, now).await;
}

/// `finish_sign_in` answers a 303 for a form; a script's `fetch` cannot read a redirect, so the
/// same response (its cookies included) becomes a 200 naming where to go.
fn redirect_as_json(mut response: Response) -> Response {
    let location = response.headers_mut().remove(header::LOCATION).and_then(|v| v.to_str().ok().map(str::to_owned));
    *response.status_mut() = StatusCode::OK;
    let body = json!({ "redirect": location.unwrap_or_else(|| doorway_core::routes::ACCOUNT.to_owned()) });
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    *response.body_mut() = Body::from(body.to_string());
    response
}

/// The browser side of the ceremonies (no inline scripts under Doorway's CSP).
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../../static/passkeys.js"),
    )
}
