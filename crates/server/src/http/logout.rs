//! RP-initiated logout at the end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0) and
//! back-channel logout (OpenID Connect Back-Channel Logout 1.0) through a durable outbox.
//!
//! Never redirects to a `post_logout_redirect_uri` unless it matched, byte for byte, a URI
//! registered by the app named by `client_id` or by a verified `id_token_hint`. Never logs or
//! shows a logout token.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use base64ct::{Base64UrlUnpadded, Encoding};
use doorway_core::jose::SigningAlg;
use doorway_core::model::{Client, Session};
use doorway_core::oauth::params::Params;
use doorway_core::oidc::logout::{LOGOUT_TOKEN_TYP, PostLogoutRedirect, RetryPolicy, logout_token_claims, refreshed};
use doorway_core::routes;
use doorway_core::secrets::random_token;
use doorway_store::{LogoutDelivery, Store, StoreError};
use minijinja::context;
use serde_json::{Map, Value};

use crate::egress::{self, Targets};
use crate::http::error::PageError;
use crate::http::form::{FormParams, QueryParams};
use crate::http::session::{self, CurrentUser, MaybeUser, check_csrf, csrf_token};
use crate::keys::KeySet;
use crate::state::{AppState, now};
use crate::ui::ser;

/// The request parameters (RP-Initiated Logout 1.0 §2). `logout_hint` and `ui_locales` are
/// accepted and not used: the session, not a hint, says who signs out, and pages are English.
const PARAMS: [&str; 6] =
    ["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint", "ui_locales"];
/// What the confirmation form carries back: the request, to be checked again on submit.
const CARRIED: [&str; 4] = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"];

/// A logout request whose every part checked out.
struct LogoutRequest {
    /// The `sub` of a verified `id_token_hint`.
    hint_sub: Option<String>,
    client: Option<Client>,
    redirect: Option<PostLogoutRedirect>,
    state: Option<String>,
    /// The parameters to carry through the confirmation form.
    carried: Vec<(String, String)>,
}

/// Why a request cannot be followed: shown to the person, never redirected.
struct Problem {
    message: &'static str,
    reason: &'static str,
}

impl Problem {
    fn new(reason: &'static str, message: &'static str) -> Self {
        Self { message, reason }
    }
}

/// The end_session_endpoint, GET and POST (§2: both must be supported).
pub async fn end_session(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: crate::audit::Origin,
    request: Request,
) -> Result<Response, PageError> {
    let post = request.method() == Method::POST;
    let params = if post {
        FormParams::from_request(request, &state).await?.0
    } else {
        let (mut parts, _) = request.into_parts();
        let QueryParams(params) = match QueryParams::from_request_parts(&mut parts, &state).await {
            Ok(params) => params,
            Err(refused) => return Err(refused),
        };
        params
    };
    // Only Doorway's own confirmation form carries a CSRF token; an app's POST does not.
    let confirmed = post && params.has("csrf_token");
    if confirmed {
        check_csrf(&state, &jar, params.get("csrf_token").ok().flatten())?;
    } else if post && jar.get(session::names(&state).session).is_none() {
        // An app's cross-site form POST arrives without the SameSite=Lax session cookie; the
        // same request as a top-level GET carries it.
        return Ok(Redirect::to(&as_get(&params)).into_response());
    }
    let request = match LogoutRequest::check(&state, &params).await? {
        Ok(request) => request,
        Err(problem) => return rejected(&state, jar, user, &problem),
    };
    let Some(current) = user else {
        // No session: nothing to end; a verified redirect is still honoured, so the app's
        // logout looks the same whether or not the person was signed in here.
        return finish(&state, jar, &request);
    };
    // §2: without a hint, or with one for someone else, the person must be asked.
    let trusted = request.hint_sub.as_deref() == Some(current.user.sub.as_str());
    if !(trusted || confirmed) {
        return confirmation(&state, jar, &current, &request);
    }
    let jar = session::end_session(&state, jar).await?;
    let mut event = crate::audit::Event::new(crate::audit::kind::SESSION_ENDED)
        .by_user(&current.user.id)
        .detail(serde_json::json!({ "which": "this", "sessions": 1, "at": "end_session_endpoint" }));
    if let Some(client) = &request.client {
        event = event.client(&client.client_id);
    }
    crate::audit::record(&state, &origin, event, crate::state::now()).await;
    tracing::info!(
        user_id = %current.user.id,
        client_id = request.client.as_ref().map(|c| c.client_id.as_str()),
        confirmed,
        "signed out at the end_session_endpoint"
    );
    finish(&state, jar, &request)
}

impl LogoutRequest {
    /// RP-Initiated Logout 1.0 §2–§4, in order. Anything that fails validation is not used
    /// (§4), and a failure stops here: the caller shows a page.
    async fn check(state: &AppState, params: &Params) -> Result<Result<Self, Problem>, StoreError> {
        // RFC 6749 §3.1, applied here too: a parameter sent twice is refused.
        if params.first_duplicate(&PARAMS).is_some() {
            return Ok(Err(Problem::new("duplicate_parameter", "The sign-out request repeats a parameter.")));
        }
        let get = |name: &str| params.get(name).ok().flatten().map(str::to_owned);
        // §4: the OP MUST verify that it issued the id_token_hint; expiry does not matter.
        let hint = match get("id_token_hint") {
            None => None,
            Some(token) => match verify_hint(&state.keys.current(), &token, &state.config.issuer) {
                Some(hint) => Some(hint),
                None => {
                    return Ok(Err(Problem::new(
                        "id_token_hint_invalid",
                        "The app sent an ID token that was not issued by this server.",
                    )));
                }
            },
        };
        // §2: client_id, when sent with a hint, must be the hint's audience.
        let client_id = match (get("client_id"), hint.as_ref().and_then(|h| h.client_id.clone())) {
            (Some(sent), Some(hinted)) if sent != hinted => {
                return Ok(Err(Problem::new(
                    "client_id_mismatch",
                    "The app named in the sign-out request is not the one its ID token was issued to.",
                )));
            }
            (sent, hinted) => sent.or(hinted),
        };
        let client = match &client_id {
            Some(id) => state.store.find_client(id).await?,
            None => None,
        };
        if client.is_none() && params.has("client_id") {
            return Ok(Err(Problem::new("unknown_client", "The sign-out request names an unknown app.")));
        }
        // §3: the URI MUST have been registered by the identified app; only then is it used.
        let redirect = match get("post_logout_redirect_uri") {
            None => None,
            Some(presented) => {
                let Some(client) = &client else {
                    return Ok(Err(Problem::new(
                        "redirect_without_client",
                        "The sign-out request asks to return to an address but does not say which app it is \
                         from.",
                    )));
                };
                match PostLogoutRedirect::verify(&client.post_logout_redirect_uris, &presented) {
                    Some(verified) => Some(verified),
                    None => {
                        return Ok(Err(Problem::new(
                            "redirect_not_registered",
                            "The address the app asked to return to is not registered for it.",
                        )));
                    }
                }
            }
        };
        let carried = CARRIED.iter().filter_map(|name| get(name).map(|value| ((*name).to_owned(), value))).collect();
        Ok(Ok(Self { hint_sub: hint.map(|h| h.sub), client, redirect, state: get("state"), carried }))
    }
}

/// What a verified `id_token_hint` says.
struct Hint {
    sub: String,
    /// The app it was issued to: a single `aud`, or `azp`.
    client_id: Option<String>,
}

/// Verifies a hint: Doorway's signature by a published key and Doorway's `iss`; `exp` is not
/// checked (an expired ID token is still a valid hint). Logout tokens are refused (`typ`,
/// `events`), so one cannot stand in for an ID token.
fn verify_hint(keys: &KeySet, token: &str, issuer: &str) -> Option<Hint> {
    // Signature, issuer, and that it is an ID token (not a logout token): see `verify_own`.
    let claims = keys.verify_own(token, issuer)?;
    let sub = claims.get("sub")?.as_str()?.to_owned();
    let client_id = match claims.get("aud")? {
        Value::String(aud) => Some(aud.clone()),
        Value::Array(auds) if auds.len() == 1 => auds[0].as_str().map(str::to_owned),
        _ => claims.get("azp").and_then(Value::as_str).map(str::to_owned),
    };
    Some(Hint { sub, client_id })
}

/// The same request as a GET to this endpoint (only the logout parameters are kept).
fn as_get(params: &Params) -> String {
    let kept = PARAMS.iter().filter_map(|name| params.get(name).ok().flatten().map(|value| (*name, value)));
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
    if query.is_empty() { routes::END_SESSION.to_owned() } else { format!("{}?{query}", routes::END_SESSION) }
}

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// After signing out (or with nobody signed in): back to the app if its URI verified, else a
/// page that says so.
fn finish(state: &AppState, jar: CookieJar, request: &LogoutRequest) -> Result<Response, PageError> {
    if let Some(redirect) = &request.redirect {
        let location = redirect.with_state(request.state.as_deref());
        return Ok((jar, [(header::CACHE_CONTROL, "no-store")], Redirect::to(&location)).into_response());
    }
    let app = request.client.as_ref().map(|c| context! { name => &c.name });
    let html = state.ui.render("signed_out.html", context! { app })?;
    Ok(page(jar, StatusCode::OK, html))
}

/// §2: "Do you want to sign out?", the request carried through a CSRF-protected form.
fn confirmation(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentUser,
    request: &LogoutRequest,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let app = request.client.as_ref().map(|c| context! { name => &c.name });
    let html = state.ui.render(
        "end_session.html",
        context! {
            csrf_token => csrf, action => routes::END_SESSION, fields => &request.carried, app,
            current_user => ser(&current.user),
        },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

/// §4: a request that failed validation is not followed. The person may still sign out here,
/// with nothing from the request carried along.
fn rejected(
    state: &AppState,
    jar: CookieJar,
    user: Option<CurrentUser>,
    problem: &Problem,
) -> Result<Response, PageError> {
    tracing::warn!(target: "security", event = "logout_request_rejected", reason = problem.reason,
        "an RP-initiated logout request failed validation; not redirecting");
    let (jar, csrf) = csrf_token(state, jar);
    let fields: Vec<(String, String)> = Vec::new();
    let html = state.ui.render(
        "end_session.html",
        context! {
            csrf_token => csrf, action => routes::END_SESSION, fields, problem => problem.message,
            current_user => ser(user.map(|u| u.user)),
        },
    )?;
    Ok(page(jar, StatusCode::BAD_REQUEST, html))
}

/// Ends a browser session everywhere: deletes it, then queues a logout token for every app it
/// signed in to that registered a `backchannel_logout_uri`. The deletion comes first and is the
/// only step that can fail the call: whatever happens to the notifications, the person is
/// signed out of Doorway.
pub async fn end_session_everywhere(state: &AppState, session: &Session) -> Result<(), StoreError> {
    state.store.delete_session(&session.id_hash).await?;
    let queued = async {
        let sub = state.store.find_user(&session.user_id).await?.map(|u| u.sub);
        queue_logout_tokens(
            &state.store,
            &state.keys.current(),
            &state.config.issuer,
            &session.sid,
            sub.as_deref(),
            now(),
        )
        .await
    };
    if let Err(err) = queued.await {
        tracing::error!(error = %err, "queueing back-channel logout failed; the apps of this session are not notified");
    }
    Ok(())
}

/// Tells the apps of every ended session of a user (password change, disable) that it ended.
/// Best effort: failures are logged, the sessions are gone either way.
pub async fn notify_ended_sessions(store: &Store, keys: &KeySet, issuer: &str, sub: &str, sids: &[String], now: i64) {
    for sid in sids {
        if let Err(err) = queue_logout_tokens(store, keys, issuer, sid, Some(sub), now).await {
            tracing::error!(error = %err, "queueing back-channel logout failed; the apps of a session are not notified");
        }
    }
}

/// Back-Channel Logout 1.0 §2.4–§2.5: one logout token per app the session `sid` signed in to
/// that has a back-channel URI, signed with the app's ID token algorithm and typed
/// `logout+jwt`, written to the outbox. Returns how many were queued.
pub async fn queue_logout_tokens(
    store: &Store,
    keys: &KeySet,
    issuer: &str,
    sid: &str,
    sub: Option<&str>,
    now: i64,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    for client_id in store.take_session_clients(sid).await? {
        let Some(client) = store.find_client(&client_id).await? else { continue };
        let Some(uri) = client.backchannel_logout_uri.as_deref() else { continue };
        let claims = logout_token_claims(issuer, &client.client_id, sub, sid, &random_token(""), now);
        let Some(token) = sign(keys, &client, &claims) else { continue };
        store.enqueue_logout(&uuid::Uuid::new_v4().to_string(), &client.client_id, uri, &token, now).await?;
        tracing::info!(client_id = %client.client_id, "back-channel logout queued");
        queued += 1;
    }
    Ok(queued)
}

pub(crate) fn sign(keys: &KeySet, client: &Client, claims: &Map<String, Value>) -> Option<String> {
    let alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
    let signed = keys.signer(alg).map(|key| key.sign_with_typ(claims, LOGOUT_TOKEN_TYP));
    match signed {
        Some(Ok(token)) => Some(token),
        Some(Err(err)) => {
            tracing::error!(error = %err, client_id = %client.client_id, "signing a logout token failed");
            None
        }
        None => {
            tracing::error!(alg = alg.as_str(), client_id = %client.client_id, "no active key to sign a logout token");
            None
        }
    }
}

/// How long a claimed delivery is this node's: longer than the HTTP client's 10 s timeout, so a
/// row is never delivered by two nodes at once.
const LEASE: i64 = 30;
/// Deliveries claimed per pass, all sent concurrently.
const BATCH: i64 = 32;
/// A stored token with less life than this (of its 120 s) is re-signed before it is sent.
const MIN_REMAINING: i64 = 30;

/// Delivers the logout tokens that are due (called every second by the background worker).
pub async fn deliver_due(state: &AppState) {
    let claimed = match state.store.claim_logout_deliveries(now(), LEASE, BATCH).await {
        Ok(claimed) => claimed,
        Err(err) => {
            tracing::error!(error = %err, "claiming back-channel logout deliveries failed");
            return;
        }
    };
    let mut running = tokio::task::JoinSet::new();
    for delivery in claimed {
        running.spawn(deliver(state.clone(), delivery));
    }
    while running.join_next().await.is_some() {}
}

/// Back-Channel Logout 1.0 §2.5: POST `logout_token` form-encoded; a 2xx means done (§2.8).
/// Anything else is retried with backoff, then given up.
async fn deliver(state: AppState, delivery: LogoutDelivery) {
    let now = now();
    let outcome = match (outbound(&state, &delivery).await, current_token(&state, &delivery, now).await) {
        (Ok(http), Ok(token)) => {
            match http.post(&delivery.uri).form(&[("logout_token", token.as_str())]).send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(Failure::Retry(format!("the app answered HTTP {}", response.status().as_u16()))),
                Err(err) => Err(Failure::Retry(describe(&err))),
            }
        }
        (Err(failure), _) => Err(failure),
        (Ok(_), Err(err)) => Err(Failure::Retry(err)),
    };
    let attempts = delivery.attempts + 1;
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(delivery_id = %delivery.id, client_id = %delivery.client_id, attempts,
                "back-channel logout delivered");
            state.store.mark_logout_delivered(&delivery.id, now).await
        }
        Err(Failure::Refused(error)) => {
            tracing::warn!(target: "security", event = "backchannel_target_refused", delivery_id = %delivery.id,
                client_id = %delivery.client_id, error = %error, "back-channel logout not sent; giving up");
            state.store.mark_logout_failed(&delivery.id, &error, None).await
        }
        Err(Failure::Retry(error)) => {
            let next = RetryPolicy::default().next_attempt_at(attempts, now);
            match next {
                Some(at) => tracing::warn!(delivery_id = %delivery.id, client_id = %delivery.client_id, attempts,
                    retry_in = at - now, error = %error, "back-channel logout failed; will retry"),
                None => tracing::error!(delivery_id = %delivery.id, client_id = %delivery.client_id, attempts,
                    error = %error, "back-channel logout failed; giving up"),
            }
            state.store.mark_logout_failed(&delivery.id, &error, next).await
        }
    };
    if let Err(err) = recorded {
        // The lease runs out and the delivery is tried again: at least once, never lost.
        tracing::error!(error = %err, delivery_id = %delivery.id, "recording a back-channel logout attempt failed");
    }
}

/// Why a delivery did not happen: worth retrying, or never to be sent.
enum Failure {
    Retry(String),
    Refused(String),
}

/// The HTTP client for this delivery's target: a developer's app only reaches public https
/// hosts by name, resolved by [`egress::PublicResolver`] (checked again here, not only at
/// registration: the row may predate the rule, or the owner may have lost operator rights).
async fn outbound(state: &AppState, delivery: &LogoutDelivery) -> Result<reqwest::Client, Failure> {
    let client = match state.store.find_client(&delivery.client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(Failure::Refused("the app no longer exists".to_owned())),
        Err(err) => return Err(Failure::Retry(format!("database error: {err}"))),
    };
    match Targets::of_app(&state.store, &client).await {
        Ok(Targets::Any) => {
            state.http.client().map_err(|err| Failure::Retry(format!("no outbound HTTP client: {err}")))
        }
        Ok(Targets::PublicOnly) => {
            if let Err(why) = egress::check_public_url(&delivery.uri) {
                return Err(Failure::Refused(format!(
                    "refused: the back-channel logout URI {why} (the app is registered by a developer: only \
                     public https hosts are called)"
                )));
            }
            egress::public_client().cloned().ok_or_else(|| Failure::Retry("no outbound HTTP client".to_owned()))
        }
        Err(err) => Err(Failure::Retry(format!("database error: {err}"))),
    }
}

/// The stored token, or the same logout re-signed when the stored one is (nearly) expired: an
/// app that was down for an hour must not refuse a late logout for its `exp`.
async fn current_token(state: &AppState, delivery: &LogoutDelivery, now: i64) -> Result<String, String> {
    let claims = payload(&delivery.logout_token).ok_or("the stored logout token is unreadable")?;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp - now >= MIN_REMAINING {
        return Ok(delivery.logout_token.clone());
    }
    let client = match state.store.find_client(&delivery.client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err("the app no longer exists".to_owned()),
        Err(err) => return Err(format!("database error: {err}")),
    };
    sign(&state.keys.current(), &client, &refreshed(claims, now)).ok_or_else(|| "re-signing failed".to_owned())
}

/// The claims of a JWT Doorway signed itself (read back from its own outbox, not verified).
fn payload(token: &str) -> Option<Map<String, Value>> {
    let encoded = token.split('.').nth(1)?;
    let bytes = Base64UrlUnpadded::decode_vec(encoded).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A short reason for a failed request, for the log and the CLI (never the token).
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{kind}: {err}").chars().take(300).collect()
}
