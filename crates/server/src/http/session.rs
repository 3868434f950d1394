//! Browser sessions and CSRF. The session cookie holds a random id whose SHA-256 is the key of
//! a server-side row; it is `HttpOnly`, `SameSite=Lax`, and `Secure` + `__Host-` under https.
//! Forms carry a `csrf_token` that must equal the CSRF cookie (double submit).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use doorway_core::model::{Session, User};
use doorway_core::secrets::{constant_time_eq, hash_secret, random_token};

use crate::http::error::PageError;
use crate::state::{AppState, now};

pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
}

pub fn names(state: &AppState) -> CookieNames {
    if state.config.https() {
        CookieNames { session: "__Host-doorway_session", csrf: "__Host-doorway_csrf" }
    } else {
        CookieNames { session: "doorway_session", csrf: "doorway_csrf" }
    }
}

pub fn build_cookie(state: &AppState, name: &'static str, value: String, max_age: Option<i64>) -> Cookie<'static> {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.https())
        .build();
    if let Some(seconds) = max_age {
        cookie.set_max_age(time::Duration::seconds(seconds));
    }
    cookie
}

/// The signed-in person, when there is one. Never rejects for a missing session.
pub struct MaybeUser(pub Option<CurrentUser>);

#[derive(Clone)]
pub struct CurrentUser {
    pub session: Session,
    pub user: User,
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(names(state).session) else {
            return Ok(Self(None));
        };
        let found = state.store.find_session_user_seen(&hash_secret(cookie.value()), now()).await?;
        let Some((session, user, last_seen_at)) = found else {
            return Ok(Self(None));
        };
        // The sessions page shows each session's device and when it was last seen.
        crate::http::settings::sessions::record_seen(state, &session, last_seen_at, parts).await;
        Ok(Self(Some(CurrentUser { session, user })))
    }
}

/// Starts a fresh session for `user_id`, ending the one the browser had (the id is rotated at
/// every sign-in, so a planted session id is worthless).
pub async fn start_session(state: &AppState, jar: CookieJar, user_id: &str) -> Result<CookieJar, PageError> {
    let names = names(state);
    if let Some(old) = jar.get(names.session) {
        state.store.delete_session(&hash_secret(old.value())).await?;
    }
    let id = random_token("");
    let now = now();
    let session = Session {
        id_hash: hash_secret(&id),
        sid: doorway_core::secrets::random_hex_id(),
        user_id: user_id.to_owned(),
        auth_time: now,
        created_at: now,
        expires_at: now + state.config.session_ttl,
    };
    state.store.create_session(&session).await?;
    let jar = jar.add(build_cookie(state, names.session, id, Some(state.config.session_ttl))).add(build_cookie(
        state,
        names.csrf,
        random_token(""),
        None,
    ));
    Ok(jar)
}

/// Signs the browser out: its session ends (with back-channel logout to the apps it signed in
/// to) and the cookie is removed. Both /logout and the end_session_endpoint come here.
pub async fn end_session(state: &AppState, jar: CookieJar) -> Result<CookieJar, PageError> {
    let names = names(state);
    if let Some(old) = jar.get(names.session) {
        let id_hash = hash_secret(old.value());
        match state.store.find_session(&id_hash, now()).await? {
            Some(session) => crate::http::logout::end_session_everywhere(state, &session).await?,
            // Expired, or its user disabled: nothing to tell the apps, just forget it.
            None => state.store.delete_session(&id_hash).await?,
        }
    }
    let mut removal = build_cookie(state, names.session, String::new(), Some(0));
    removal.make_removal();
    Ok(jar.add(removal))
}

/// The CSRF token for a form: the browser's existing one, or a new one set as a cookie.
pub fn csrf_token(state: &AppState, jar: CookieJar) -> (CookieJar, String) {
    let name = names(state).csrf;
    if let Some(existing) = jar.get(name).map(|c| c.value().to_owned()).filter(|v| v.len() >= 32) {
        return (jar, existing);
    }
    let token = random_token("");
    (jar.add(build_cookie(state, name, token.clone(), None)), token)
}

/// Checks a submitted form's token against the cookie, in constant time.
pub fn check_csrf(state: &AppState, jar: &CookieJar, presented: Option<&str>) -> Result<(), PageError> {
    let expected = jar.get(names(state).csrf).map(|c| c.value().to_owned());
    match (expected, presented) {
        (Some(expected), Some(presented)) if expected.len() >= 32 && constant_time_eq(&expected, presented) => Ok(()),
        _ => {
            tracing::warn!(target: "security", event = "csrf_rejected", "a form was submitted without a valid CSRF token");
            Err(PageError::new(
                axum::http::StatusCode::FORBIDDEN,
                "This form has expired",
                "The page you submitted was out of date or did not come from this site. Go back, reload the page and try again.",
            ))
        }
    }
}
