//! The device authorization endpoint and the `/device` page (RFC 8628 §3.1–3.3).
//!
//! A device asks for a code pair; the person types the short user code on `/device`, signed in,
//! sees the app and the scopes, and approves or denies. Wrong codes are counted per person in
//! the database (RFC 8628 §5.1), and the page never names the device's secret code.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::{Client, DeviceCode, DeviceStatus};
use doorway_core::oauth::device::{
    DeviceAuthorizationResponse, INTERVAL, generate_user_code, normalize_user_code, requested_scope,
};
use doorway_core::oauth::grant::GrantType;
use doorway_core::oauth::params::Params;
use doorway_core::secrets::{hash_secret, random_token};
use doorway_core::{ErrorCode, OAuthError, routes};
use doorway_store::StoreError;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::http::client_auth::authenticate_client;
use crate::http::error::{JsonError, PageError};
use crate::http::form::{PageForm, QueryParams, TokenParams};
use crate::http::session::{CurrentUser, MaybeUser, check_csrf, csrf_token};
use crate::http::token::json_no_store;
use crate::state::{AppState, now};
use crate::ui::ser;

/// Wrong codes a person may enter within [`MISS_WINDOW`] before the page stops looking codes up.
const MAX_MISSES: i64 = 5;
/// Seconds over which wrong codes are counted.
const MISS_WINDOW: i64 = 15 * 60;
/// Draws of a fresh user code before giving up (a collision among live codes is rare).
const USER_CODE_DRAWS: usize = 5;

// ---------------------------------------------------------------------------------------------
// POST /oauth/device
// ---------------------------------------------------------------------------------------------

pub async fn authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    TokenParams(params): TokenParams,
) -> Response {
    match start(&state, &headers, &params).await {
        Ok(body) => json_no_store(&body),
        Err(err) => err.into_response(),
    }
}

async fn start(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<DeviceAuthorizationResponse, JsonError> {
    // RFC 8628 §3.1: the client authenticates as it would at the token endpoint.
    let client = authenticate_client(state, headers, params).await?;
    // RFC 6749 §5.2: only apps registered for the device grant may start it.
    if !client.grant_types.allows(GrantType::DeviceCode) {
        return Err(
            OAuthError::new(ErrorCode::UnauthorizedClient, "this app is not allowed the device_code grant").into()
        );
    }
    let scope = requested_scope(params.get("scope")?, &client, state.scopes.known())?;
    let now = now();
    let ttl = state.config.device_code_ttl;
    // The device code is a bearer secret: only its hash is stored.
    let device_code = random_token("");
    for _ in 0..USER_CODE_DRAWS {
        let record = DeviceCode {
            device_code_hash: hash_secret(&device_code),
            user_code: generate_user_code(),
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            status: DeviceStatus::Pending,
            user_id: None,
            auth_time: None,
            sid: None,
            interval_secs: INTERVAL,
            last_polled_at: None,
            created_at: now,
            expires_at: now + ttl,
        };
        match state.store.insert_device_code(&record).await {
            Ok(()) => {
                tracing::info!(client_id = %client.client_id, "device authorization started");
                let verification_uri = format!("{}{}", state.config.issuer, routes::DEVICE);
                return Ok(DeviceAuthorizationResponse::new(device_code, record.user_code, verification_uri, ttl));
            }
            Err(StoreError::Conflict("user_code")) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    tracing::error!("no free user code after {USER_CODE_DRAWS} draws");
    Err(OAuthError::new(ErrorCode::TemporarilyUnavailable, "no user code is available; retry shortly").into())
}

// ---------------------------------------------------------------------------------------------
// GET and POST /device
// ---------------------------------------------------------------------------------------------

/// Where the login and sign-up pages may send a person back to. An exact allow-list — the
/// device page, with at most a plain query — so `next` can never become an open redirect.
pub fn safe_next(raw: &str) -> Option<&str> {
    let rest = raw.strip_prefix(routes::DEVICE)?;
    let plain_query = |q: &str| q.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'&'));
    (rest.is_empty() || rest.strip_prefix('?').is_some_and(plain_query)).then_some(raw)
}

/// The login page, coming back to the device page (with the code, when it is well formed).
fn login_redirect(user_code: Option<&str>) -> Response {
    let next = match user_code.and_then(normalize_user_code) {
        Some(code) => format!("{}?user_code={code}", routes::DEVICE),
        None => routes::DEVICE.to_owned(),
    };
    let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
    Redirect::to(&format!("{}?next={next}", routes::LOGIN)).into_response()
}

fn html(jar: CookieJar, status: StatusCode, body: String) -> Response {
    (status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

/// The form where the person types the code; `error` explains why they see it again.
fn enter_page(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentUser,
    user_code: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    // What was typed comes back as typed (escaped by the template), within reason.
    let user_code: String = user_code.chars().take(32).collect();
    let body = state
        .ui
        .render("device.html", context! { current_user => ser(&current.user), csrf_token => csrf, user_code, error })?;
    Ok(html(jar, status, body))
}

pub async fn page(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    QueryParams(query): QueryParams,
) -> Result<Response, PageError> {
    let user_code = query.get("user_code").ok().flatten();
    let Some(current) = user else {
        return Ok(login_redirect(user_code));
    };
    // RFC 8628 §3.3.1: a code from verification_uri_complete is filled in, never acted on
    // without the person confirming it.
    let prefill = user_code.map(|c| normalize_user_code(c).unwrap_or_else(|| c.to_owned())).unwrap_or_default();
    enter_page(&state, jar, &current, &prefill, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct DeviceForm {
    csrf_token: Option<String>,
    #[serde(default)]
    user_code: String,
    /// Absent: show the app for this code. `allow` or `deny`: answer.
    decision: Option<String>,
}

/// A live code waiting for an answer, and its app; a wrong code is counted against the person.
async fn pending_code(
    state: &AppState,
    current: &CurrentUser,
    user_code: &str,
    now: i64,
) -> Result<Option<(DeviceCode, Client)>, PageError> {
    let found = state
        .store
        .find_device_code_by_user_code(user_code)
        .await?
        .filter(|code| code.status == DeviceStatus::Pending && now < code.expires_at);
    let client = match &found {
        Some(code) => state.store.find_client(&code.client_id).await?,
        None => None,
    };
    match (found, client) {
        (Some(code), Some(client)) => Ok(Some((code, client))),
        _ => {
            tracing::info!(target: "security", event = "device_code_miss", user_id = %current.user.id,
                "a wrong or expired user code was entered");
            state.store.record_device_code_miss(&current.user.id, now, now - MISS_WINDOW).await?;
            Ok(None)
        }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PageForm(form): PageForm<DeviceForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else {
        return Ok(login_redirect(Some(&form.user_code)));
    };
    let now = now();
    // RFC 8628 §5.1: the user code is short; stop looking codes up for a person who keeps
    // entering wrong ones. Answering (allow/deny) goes through the same gate.
    if state.store.count_device_code_misses(&current.user.id, now - MISS_WINDOW).await? >= MAX_MISSES {
        tracing::warn!(target: "security", event = "device_code_throttled", user_id = %current.user.id,
            "too many wrong user codes");
        let message = "Too many wrong codes. Wait a few minutes, then try again.";
        return enter_page(&state, jar, &current, &form.user_code, Some(message), StatusCode::TOO_MANY_REQUESTS);
    }
    let Some(user_code) = normalize_user_code(&form.user_code) else {
        let message = "That is not a code from a device. Codes look like WDJB-MJHT.";
        return enter_page(&state, jar, &current, &form.user_code, Some(message), StatusCode::BAD_REQUEST);
    };
    let Some((code, client)) = pending_code(&state, &current, &user_code, now).await? else {
        let message = "This code is wrong, has expired, or was already used. Check the code shown on your device.";
        return enter_page(&state, jar, &current, &user_code, Some(message), StatusCode::BAD_REQUEST);
    };
    // An app restricted to one organization's members: for anyone else the only answer is no,
    // given at once, so the device stops polling with access_denied.
    if !crate::http::orgs::may_sign_in(&state, &client, &current.user.id).await? {
        let session = &current.session;
        state
            .store
            .decide_device_code(&user_code, false, &current.user.id, session.auth_time, &session.sid, now)
            .await?;
        let org = client.authorized_org.as_deref().unwrap_or_default();
        tracing::info!(client_id = %client.client_id, org, "device sign-in refused: not a member of the app's organization");
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            format!("You cannot sign in to {}", client.name),
            format!(
                "{} only admits members of the organization {org}. The device was told that access is denied.",
                client.name
            ),
        ));
    }
    let approve = match form.decision.as_deref() {
        None => return confirm_page(&state, jar, &current, &client, &code),
        Some("allow") => true,
        Some("deny") => false,
        Some(_) => return Err(PageError::bad_request("Choose Allow or Deny.")),
    };
    // Only a pending, unexpired code changes: of two answers, the first counts.
    let session = &current.session;
    if !state
        .store
        .decide_device_code(&user_code, approve, &current.user.id, session.auth_time, &session.sid, now)
        .await?
    {
        return Err(PageError::bad_request("This code was already answered or has expired."));
    }
    if approve {
        // The person approved these scopes for this app: remembered like a consent, so the
        // account page lists the app (and revoking it reaches the device's tokens).
        state.store.grant_consent(&current.user.id, &client.client_id, &code.scope, now).await?;
    }
    tracing::info!(client_id = %client.client_id, user_id = %current.user.id, approve, "device authorization answered");
    let body = state.ui.render(
        "device_done.html",
        context! { current_user => ser(&current.user), app => app_context(&client), approved => approve },
    )?;
    Ok(html(jar, StatusCode::OK, body))
}

fn app_context(client: &Client) -> Value {
    context! { name => &client.name, logo_uri => &client.logo_uri, homepage_url => &client.homepage_url }
}

/// The app and what it asks for, with Allow and Deny (RFC 8628 §5.4: the person must see
/// which app they are letting in).
fn confirm_page(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentUser,
    client: &Client,
    code: &DeviceCode,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let scopes = crate::ui::ser(state.scopes.for_display(&code.scope));
    let body = state.ui.render(
        "device_confirm.html",
        context! {
            current_user => ser(&current.user),
            app => app_context(client),
            scopes,
            user_code => &code.user_code,
            csrf_token => csrf,
        },
    )?;
    Ok(html(jar, StatusCode::OK, body))
}
