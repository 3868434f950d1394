//! `/settings/two-factor`: turning TOTP on (a new secret shown as a QR code and as text, enabled
//! only once a code from the app confirms it, then ten recovery codes shown once), generating
//! new recovery codes, and turning it off. The last two need re-authentication (the password or
//! a current code): a borrowed or stolen session must not be enough to remove the second factor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::User;
use doorway_core::secrets::random_bytes;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::{Moment, page};
use crate::audit::{self, Event, Origin, kind};
use crate::http::error::PageError;
use crate::http::form::{PageForm, TypedQuery};
use crate::http::session::{CurrentUser, MaybeUser, check_csrf, csrf_token};
use crate::http::two_factor::{check_totp, new_recovery_codes, open_secret, seal_label, signed_in_recently, totp_for};
use crate::state::{AppState, now};
use crate::throttle::{self, Locked, PeerIp};
use crate::ui::ser;

pub const PATH: &str = "/settings/two-factor";
pub const SETUP: &str = "/settings/two-factor/setup";
pub const CONFIRM: &str = "/settings/two-factor/confirm";
pub const DISABLE: &str = "/settings/two-factor/disable";
pub const RECOVERY_CODES: &str = "/settings/two-factor/recovery-codes";

/// What the page shows besides the credential's state.
#[derive(Default)]
struct Extra<'a> {
    error: Option<&'a str>,
    notice: Option<&'a str>,
    recovery_codes: Option<Vec<String>>,
}

/// The inline SVG of `url` (no image request, so the page's `img-src` is not involved; the SVG
/// uses attributes only, no `style`, so `style-src 'self'` does not block it).
fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
    let svg = svg.trim_start_matches(r#"<?xml version="1.0" standalone="yes"?>"#);
    Some(svg.replacen("<svg ", r#"<svg role="img" aria-label="QR code for your authenticator app" "#, 1))
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    user: &User,
    status: StatusCode,
    extra: Extra<'_>,
) -> Result<Response, PageError> {
    let now = now();
    let credential = state.store.find_totp(&user.id).await?;
    let mut ctx = context! {};
    let label = match &credential {
        Some(c) if c.enabled_at.is_some() => {
            let left = state.store.count_recovery_codes(&user.id).await?;
            ctx =
                context! { enabled => ser(Moment::new(c.enabled_at.unwrap_or_default(), now)), recovery_left => left };
            "enabled"
        }
        Some(c) => {
            let totp = totp_for(state, user, open_secret(state, &user.id, &c.secret_sealed)?)?;
            let url = totp.to_url().map_err(|err| {
                tracing::error!(error = %err, "cannot build the otpauth:// URL");
                PageError::internal()
            })?;
            ctx = context! { secret => totp.secret().to_base32(), qr_svg => qr_svg(&url), otpauth_url => url };
            "pending"
        }
        None => "off",
    };
    let (jar, csrf) = csrf_token(state, jar);
    let html = state.ui.render(
        "settings_two_factor.html",
        context! {
            current_user => ser(user), csrf_token => csrf, settings_tab => "two_factor", status => label,
            error => extra.error, notice => extra.notice, recovery_codes => extra.recovery_codes,
            ..ctx
        },
    )?;
    Ok(page(jar, status, html))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    disabled: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<ShowQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else {
        return Ok(crate::http::account::login_then(PATH));
    };
    // A key waiting for confirmation is shown only to a recent sign-in: a stale session must
    // not learn the key its owner is about to turn on.
    if !signed_in_recently(&current.session, now())
        && state.store.find_totp(&current.user.id).await?.is_some_and(|c| c.enabled_at.is_none())
    {
        return Ok(crate::http::account::login_then(PATH));
    }
    let notice = query.disabled.is_some().then_some("Two-factor authentication is off.");
    render(&state, jar, &current.user, StatusCode::OK, Extra { notice, ..Extra::default() }).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

/// Starts (or restarts) enrolment with a fresh secret; sign-in is unaffected until confirmed.
pub async fn setup(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else {
        return Ok(crate::http::account::login_then(PATH));
    };
    // A new key on an old session: sign in again first (and come back here).
    if !signed_in_recently(&current.session, now()) {
        return Ok(crate::http::account::login_then(PATH));
    }
    // RFC 4226 §4: a shared secret of at least 128 bits; 160 recommended.
    let secret = random_bytes::<20>();
    let sealed = state.keys.seal(&seal_label(&current.user.id), &secret).map_err(|_| PageError::internal())?;
    // Refused (nothing changes) when TOTP is already on: a new key needs turning it off first.
    state.store.begin_totp_enrolment(&current.user.id, &sealed, now()).await?;
    Ok(Redirect::to(PATH).into_response())
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    code: String,
}

/// Confirms enrolment with a code from the app; shows the recovery codes once.
pub async fn confirm(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    PageForm(form): PageForm<CodeForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else {
        return Ok(crate::http::account::login_then(PATH));
    };
    let user = &current.user;
    let now = now();
    // Checked again here: a pending key left on the page must not be confirmable from a
    // session that has since gone stale.
    if !signed_in_recently(&current.session, now) {
        return Ok(crate::http::account::login_then(PATH));
    }
    let Some(credential) = state.store.find_totp(&user.id).await?.filter(|c| c.enabled_at.is_none()) else {
        return Ok(Redirect::to(PATH).into_response());
    };
    let totp = totp_for(&state, user, open_secret(&state, &user.id, &credential.secret_sealed)?)?;
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).take(64).collect();
    let step = totp.check(&code, u64::try_from(now).unwrap_or_default()).and_then(|s| i64::try_from(s).ok());
    let Some(step) = step else {
        let error = Some("That code is not correct. Check the time on your phone and enter the current code.");
        return render(&state, jar, user, StatusCode::UNPROCESSABLE_ENTITY, Extra { error, ..Extra::default() }).await;
    };
    let (shown, hashes) = new_recovery_codes();
    if !state.store.enable_totp(&user.id, step, &hashes, now).await? {
        // Confirmed meanwhile by another request (or restarted): show the current state.
        return Ok(Redirect::to(PATH).into_response());
    }
    audit::record(&state, &origin, Event::new(kind::TWO_FACTOR_ENABLED).by_user(&user.id), now).await;
    tracing::info!(target: "security", event = "two_factor_enabled", user_id = %user.id, "TOTP turned on");
    let notice = Some("Two-factor authentication is on.");
    render(&state, jar, user, StatusCode::OK, Extra { notice, recovery_codes: Some(shown), ..Extra::default() }).await
}

#[derive(Deserialize)]
pub struct ReauthForm {
    csrf_token: Option<String>,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Why re-authentication failed: the message, and the lockout if one refused it.
struct Refused {
    message: String,
    locked: Option<Locked>,
}

/// The password or a current TOTP code, throttled like sign-in attempts (same buckets), so a
/// stolen session cannot be used to guess either.
async fn reauthenticate(
    state: &AppState,
    user: &User,
    form: &ReauthForm,
    peer: Option<std::net::IpAddr>,
    origin: &Origin,
    now: i64,
) -> Result<Result<(), Refused>, PageError> {
    let (code, password) = (form.code.trim(), form.password.as_str());
    let buckets = match (code.is_empty(), password.is_empty()) {
        (false, _) => throttle::totp_buckets(&state.config, &user.id, peer),
        (true, false) => throttle::password_buckets(&state.config, user.username.as_str(), peer),
        (true, true) => {
            let message = "Enter your password or a code from your authenticator app.".to_owned();
            return Ok(Err(Refused { message, locked: None }));
        }
    };
    if let Err(locked) = throttle::reserve(&state.store, &buckets, now).await? {
        let message = format!("Too many attempts. Try again in {}.", locked.wait_text());
        return Ok(Err(Refused { message, locked: Some(locked) }));
    }
    let right = if code.is_empty() {
        let stored = state.store.find_user_with_password(user.username.as_str()).await?;
        let hash = stored.as_ref().map(|(_, hash)| hash.as_str());
        password.len() <= doorway_core::types::Password::MAX && state.passwords.verify(password, hash).await?
    } else {
        check_totp(state, user, code, now).await?
    };
    if right {
        throttle::refund(&state.store, &buckets).await;
        return Ok(Ok(()));
    }
    let (event, message) = if code.is_empty() {
        (
            Event::new(kind::SIGN_IN_FAILED)
                .detail(json!({ "reason": "wrong_password", "during": "two_factor_settings" })),
            "The password is not correct.",
        )
    } else {
        (Event::new(kind::SECOND_FACTOR_FAILED), "That code is not correct, or was already used.")
    };
    audit::record(state, origin, event.by_user(&user.id), now).await;
    Ok(Err(Refused { message: message.to_owned(), locked: None }))
}

async fn refused(state: &AppState, jar: CookieJar, user: &User, refused: Refused) -> Result<Response, PageError> {
    let status =
        if refused.locked.is_some() { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut response =
        render(state, jar, user, status, Extra { error: Some(&refused.message), ..Extra::default() }).await?;
    if let Some(locked) = refused.locked {
        let (name, value) = locked.header();
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// What `disable` and `regenerate` both require before they change anything: a valid CSRF token,
/// a signed-in user with TOTP on, and a successful re-authentication. `Ok(Err(response))` is the
/// answer to send instead (sign in first, back to the page, or the refusal).
async fn require_reauthentication(
    state: &AppState,
    jar: CookieJar,
    user: Option<CurrentUser>,
    peer: Option<std::net::IpAddr>,
    origin: &Origin,
    form: &ReauthForm,
    now: i64,
) -> Result<Result<(CookieJar, User), Response>, PageError> {
    check_csrf(state, &jar, form.csrf_token.as_deref())?;
    let Some(CurrentUser { user, .. }) = user else {
        return Ok(Err(crate::http::account::login_then(PATH)));
    };
    if !state.store.totp_enabled(&user.id).await? {
        return Ok(Err(Redirect::to(PATH).into_response()));
    }
    if let Err(why) = reauthenticate(state, &user, form, peer, origin, now).await? {
        return Ok(Err(refused(state, jar, &user, why).await?));
    }
    Ok(Ok((jar, user)))
}

/// Turns TOTP off (after re-authentication): the secret and the recovery codes are deleted.
pub async fn disable(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PeerIp(peer): PeerIp,
    origin: Origin,
    PageForm(form): PageForm<ReauthForm>,
) -> Result<Response, PageError> {
    let now = now();
    let (_, user) = match require_reauthentication(&state, jar, user, peer, &origin, &form, now).await? {
        Ok(reauthenticated) => reauthenticated,
        Err(response) => return Ok(response),
    };
    state.store.disable_totp(&user.id).await?;
    audit::record(&state, &origin, Event::new(kind::TWO_FACTOR_DISABLED).by_user(&user.id), now).await;
    tracing::info!(target: "security", event = "two_factor_disabled", user_id = %user.id, "TOTP turned off");
    Ok(Redirect::to(&format!("{PATH}?disabled=1")).into_response())
}

/// Replaces the recovery codes (after re-authentication) and shows the new ones once.
pub async fn regenerate(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PeerIp(peer): PeerIp,
    origin: Origin,
    PageForm(form): PageForm<ReauthForm>,
) -> Result<Response, PageError> {
    let now = now();
    let (jar, user) = match require_reauthentication(&state, jar, user, peer, &origin, &form, now).await? {
        Ok(reauthenticated) => reauthenticated,
        Err(response) => return Ok(response),
    };
    let (shown, hashes) = new_recovery_codes();
    state.store.replace_recovery_codes(&user.id, &hashes, now).await?;
    audit::record(&state, &origin, Event::new(kind::RECOVERY_CODES_REGENERATED).by_user(&user.id), now).await;
    let notice = Some("New recovery codes generated; the old ones no longer work.");
    render(&state, jar, &user, StatusCode::OK, Extra { notice, recovery_codes: Some(shown), ..Extra::default() }).await
}

#[cfg(test)]
mod tests {
    use super::qr_svg;

    #[test]
    fn the_qr_code_is_bare_svg_markup_without_styles() {
        let svg = qr_svg("otpauth://totp/Doorway:alice?secret=JBSWY3DPEHPK3PXP&issuer=Doorway").unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label="), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml") && !svg.contains("style="));
    }
}
