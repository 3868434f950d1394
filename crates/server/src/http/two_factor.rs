//! The second step of a sign-in for people with TOTP turned on: after the password, a short
//! challenge (a random id in an HttpOnly cookie, its SHA-256 in the database) asks for a code
//! from the authenticator app or a recovery code. The challenge is not a session: until the
//! second factor is given nothing is issued, no session exists and the parked authorization
//! request stays unauthenticated. It must never sign anyone in by itself.
//!
//! Codes are checked per RFC 6238 (SHA-1, 6 digits, 30 s steps, ±1 step for clock skew), each
//! accepted step only once (§5.2) by a conditional UPDATE; recovery codes are single use;
//! wrong codes count against the challenge (five end it) and in the shared throttle.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::User;
use doorway_core::secrets::{hash_secret, random_bytes, random_token};
use doorway_store::SecondFactorChallenge;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Event, Origin, kind};
use crate::http::error::PageError;
use crate::http::form::PageForm;
use crate::http::session::{build_cookie, check_csrf, csrf_token};
use crate::state::{AppState, now};
use crate::throttle::{self, PeerIp};

pub const PATH: &str = "/login/two-factor";
/// How long the person has to give the second factor after the password.
const CHALLENGE_TTL: i64 = 300;
/// Wrong codes that end a challenge (the password must then be entered again).
pub const MAX_FAILURES: i64 = 5;
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;

/// How recent the session's sign-in must be to add a way of signing in (a TOTP key, a
/// passkey): a borrowed, stolen or forgotten session cannot plant a credential of its own
/// (or lock its owner out with a key only the attacker holds). OWASP ASVS 3.7.1: sensitive
/// account changes need a fresh sign-in.
pub const RECENT_SIGN_IN: i64 = 900;

/// Whether `session` signed in within [`RECENT_SIGN_IN`] seconds of `now`.
pub(crate) fn signed_in_recently(session: &doorway_core::model::Session, now: i64) -> bool {
    now.saturating_sub(session.auth_time) <= RECENT_SIGN_IN
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.https() { "__Host-doorway_2fa" } else { "doorway_2fa" }
}

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// The label (associated data) a person's TOTP secret is sealed under: a sealed secret moved to
/// another account's row does not open.
pub(crate) fn seal_label(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// The authenticator-app parameters every app understands (RFC 6238 defaults): SHA-1, 6 digits,
/// 30-second steps, one step of skew either way.
pub(crate) fn totp_for(state: &AppState, user: &User, secret: Vec<u8>) -> Result<totp_rs::Totp, PageError> {
    // `otpauth://` labels may not contain a colon (Key Uri Format).
    let issuer: String = state.config.platform_name.chars().filter(|c| *c != ':').collect();
    let account: String = user.username.as_str().chars().filter(|c| *c != ':').collect();
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(issuer))
        .build()
        .map_err(|err| {
            tracing::error!(error = %err, "a TOTP secret is unusable");
            PageError::internal()
        })
}

/// Opens a stored secret (sealed with the server's sealing key).
pub(crate) fn open_secret(state: &AppState, user_id: &str, sealed: &[u8]) -> Result<Vec<u8>, PageError> {
    state.keys.open(&seal_label(user_id), sealed).map_err(|_| {
        tracing::error!(user_id, "cannot open a TOTP secret: was the sealing key changed?");
        PageError::internal()
    })
}

/// A submitted code without spaces or dashes, lower case (people copy codes with either).
fn normalise(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).take(64).collect()
}

/// Checks a TOTP code against `user`'s *enabled* credential and, if it matches, accepts its
/// time step — once: of two requests with the same code only one gets `true`.
pub(crate) async fn check_totp(state: &AppState, user: &User, raw: &str, now: i64) -> Result<bool, PageError> {
    let code = normalise(raw);
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(false);
    }
    let Some(credential) = state.store.find_totp(&user.id).await?.filter(|c| c.enabled_at.is_some()) else {
        return Ok(false);
    };
    let totp = totp_for(state, user, open_secret(state, &user.id, &credential.secret_sealed)?)?;
    let Some(step) = totp.check(&code, u64::try_from(now).unwrap_or_default()) else {
        return Ok(false);
    };
    // RFC 6238 §5.2: the verifier must not accept the second attempt of the same OTP. The
    // UPDATE requires a step above the last accepted one, atomically.
    Ok(state.store.accept_totp_step(&user.id, i64::try_from(step).unwrap_or(i64::MAX)).await?)
}

/// Uses up one of `user`'s recovery codes if `raw` is one.
pub(crate) async fn use_recovery_code(state: &AppState, user: &User, raw: &str) -> Result<bool, PageError> {
    let code = normalise(raw);
    if code.len() != 20 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    Ok(state.store.use_recovery_code(&user.id, &hash_secret(&code)).await?)
}

/// Ten fresh recovery codes: 80 random bits each, shown as `xxxxx-xxxxx-xxxxx-xxxxx`; returns
/// (what to show once, what to store).
pub(crate) fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let hex: String = random_bytes::<10>().iter().map(|b| format!("{b:02x}")).collect();
            let shown = [&hex[0..5], &hex[5..10], &hex[10..15], &hex[15..20]].join("-");
            let stored = hash_secret(&hex);
            (shown, stored)
        })
        .unzip()
}

/// Called by the login form once the password was right and the person has TOTP enabled:
/// parks the sign-in in a challenge and asks for the second factor. No session is started.
pub(crate) async fn begin(
    state: &AppState,
    jar: CookieJar,
    user_id: &str,
    interaction: Option<&str>,
    next: Option<&str>,
) -> Result<Response, PageError> {
    let now = now();
    let id = random_token("");
    let challenge = SecondFactorChallenge {
        id_hash: hash_secret(&id),
        user_id: user_id.to_owned(),
        interaction: interaction.map(str::to_owned),
        next: next.map(str::to_owned),
        failures: 0,
        created_at: now,
        expires_at: now + CHALLENGE_TTL,
    };
    // A challenge the browser held before (an abandoned attempt) is replaced.
    if let Some(old) = jar.get(cookie_name(state)) {
        state.store.delete_second_factor_challenge(&hash_secret(old.value())).await?;
    }
    state.store.create_second_factor_challenge(&challenge).await?;
    let jar = jar.add(build_cookie(state, cookie_name(state), id, Some(CHALLENGE_TTL)));
    Ok((jar, Redirect::to(PATH)).into_response())
}

/// The browser's running challenge, if any.
async fn current(state: &AppState, jar: &CookieJar, now: i64) -> Result<Option<SecondFactorChallenge>, PageError> {
    let Some(cookie) = jar.get(cookie_name(state)) else {
        return Ok(None);
    };
    Ok(state.store.find_second_factor_challenge(&hash_secret(cookie.value()), now).await?)
}

fn without_challenge(state: &AppState, jar: CookieJar) -> CookieJar {
    let mut removal = build_cookie(state, cookie_name(state), String::new(), Some(0));
    removal.make_removal();
    jar.add(removal)
}

fn render(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    error: Option<&str>,
    app: minijinja::Value,
) -> Result<Response, PageError> {
    let (jar, csrf) = csrf_token(state, jar);
    let html = state.ui.render("login_two_factor.html", context! { csrf_token => csrf, error, app })?;
    Ok(page(jar, status, html))
}

pub async fn page_get(State(state): State<AppState>, jar: CookieJar) -> Result<Response, PageError> {
    let Some(challenge) = current(&state, &jar, now()).await? else {
        return Ok((without_challenge(&state, jar), Redirect::to(doorway_core::routes::LOGIN)).into_response());
    };
    let app = super::account::app_for(&state, challenge.interaction.as_deref()).await?;
    render(&state, jar, StatusCode::OK, None, app)
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    code: String,
}

pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    PeerIp(peer): PeerIp,
    origin: Origin,
    PageForm(form): PageForm<CodeForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let now = now();
    let Some(challenge) = current(&state, &jar, now).await? else {
        // Expired, ended after too many codes, or never begun: the password comes first.
        return Ok((without_challenge(&state, jar), Redirect::to(doorway_core::routes::LOGIN)).into_response());
    };
    let app = super::account::app_for(&state, challenge.interaction.as_deref()).await?;
    let user = state.store.find_user(&challenge.user_id).await?.filter(|u| !u.disabled);
    let Some(user) = user else {
        state.store.delete_second_factor_challenge(&challenge.id_hash).await?;
        return Ok((without_challenge(&state, jar), Redirect::to(doorway_core::routes::LOGIN)).into_response());
    };
    // Brute-force protection, as for passwords (see `throttle`): reserved before the code is
    // looked at, refunded only when it was right. A 6-digit code is guessable in 10^6 tries,
    // so the account's budget spans challenges (a new password entry does not reset it).
    let buckets = throttle::totp_buckets(&state.config, &user.id, peer);
    if let Err(locked) = throttle::reserve(&state.store, &buckets, now).await? {
        if locked.started {
            let event = Event::new(kind::SIGN_IN_LOCKED)
                .user(&user.id)
                .detail(json!({ "bucket": locked.kind, "retry_after": locked.retry_after }));
            audit::record(&state, &origin, event, now).await;
        }
        let message = format!("Too many codes were tried. Try again in {}.", locked.wait_text());
        let mut response = render(&state, jar, StatusCode::TOO_MANY_REQUESTS, Some(&message), app)?;
        let (name, value) = locked.header();
        response.headers_mut().insert(name, value);
        return Ok(response);
    }
    let method = if check_totp(&state, &user, &form.code, now).await? {
        Some("totp")
    } else if use_recovery_code(&state, &user, &form.code).await? {
        Some("recovery_code")
    } else {
        None
    };
    let Some(method) = method else {
        return wrong_code(&state, jar, &origin, &challenge, &user, app, now).await;
    };
    throttle::refund(&state.store, &buckets).await;
    if method == "recovery_code" {
        let left = state.store.count_recovery_codes(&user.id).await?;
        let event = Event::new(kind::RECOVERY_CODE_USED).by_user(&user.id).detail(json!({ "remaining": left }));
        audit::record(&state, &origin, event, now).await;
    }
    // Exactly one request finishes a challenge: a second one (another code submitted at the
    // same moment) finds it gone.
    if !state.store.delete_second_factor_challenge(&challenge.id_hash).await? {
        return Ok((without_challenge(&state, jar), Redirect::to(doorway_core::routes::LOGIN)).into_response());
    }
    let jar = without_challenge(&state, jar);
    let next = super::account::allowed_next(challenge.next.as_ref());
    super::account::finish_sign_in(&state, jar, &origin, &user.id, challenge.interaction.as_deref(), next, method).await
}

/// A wrong (or replayed) code: counted against the challenge, which ends at [`MAX_FAILURES`].
async fn wrong_code(
    state: &AppState,
    jar: CookieJar,
    origin: &Origin,
    challenge: &SecondFactorChallenge,
    user: &User,
    app: minijinja::Value,
    now: i64,
) -> Result<Response, PageError> {
    tracing::warn!(target: "security", event = "second_factor_failed", user_id = %user.id, "a wrong two-factor code");
    crate::metrics::sign_in(false);
    let failures = state.store.fail_second_factor_challenge(&challenge.id_hash).await?;
    let event = Event::new(kind::SECOND_FACTOR_FAILED).user(&user.id).detail(json!({ "failures": failures }));
    audit::record(state, origin, event, now).await;
    if failures < MAX_FAILURES && failures > 0 {
        let message = "That code is not correct, or was already used. Try the current code.";
        return render(state, jar, StatusCode::BAD_REQUEST, Some(message), app);
    }
    state.store.delete_second_factor_challenge(&challenge.id_hash).await?;
    let event = Event::new(kind::SECOND_FACTOR_ENDED).user(&user.id).detail(json!({ "failures": failures }));
    audit::record(state, origin, event, now).await;
    tracing::warn!(target: "security", event = "second_factor_ended", user_id = %user.id,
        "a sign-in attempt ended after too many wrong two-factor codes");
    let jar = without_challenge(state, jar);
    let (jar, csrf) = csrf_token(state, jar);
    let next = super::account::allowed_next(challenge.next.as_ref());
    let html = state.ui.render(
        "login.html",
        context! {
            csrf_token => csrf, interaction => &challenge.interaction, app, next,
            error => "Too many wrong codes. Sign in again with your password.",
        },
    )?;
    Ok(page(jar, StatusCode::BAD_REQUEST, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_distinct_80_bit_codes_stored_as_hashes_of_their_normal_form() {
        let (shown, stored) = new_recovery_codes();
        assert_eq!(shown.len(), RECOVERY_CODES);
        assert_eq!(stored.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = shown.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for (code, hash) in shown.iter().zip(&stored) {
            assert_eq!(code.len(), 23, "{code}");
            assert_ne!(code, hash, "never stored in clear");
            // What a person types (upper case, spaces instead of dashes) matches the hash.
            assert_eq!(&hash_secret(&normalise(&code.to_uppercase().replace('-', " "))), hash);
        }
    }

    #[test]
    fn submitted_codes_are_normalised_and_bounded() {
        assert_eq!(normalise(" 123 456 "), "123456");
        assert_eq!(normalise("ABCDE-12345"), "abcde12345");
        assert_eq!(normalise(&"9".repeat(10_000)).len(), 64);
    }
}
