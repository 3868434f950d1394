//! `/settings/sessions`: the browser sessions a person has open — device, address, when started
//! and last seen — with the current one marked, an **End** button for each, and "sign out
//! everywhere else". Ending a session tells the apps it signed in to (back-channel logout).
//!
//! The device and address are recorded by [`record_seen`] at most once a minute per session,
//! from the request itself: the User-Agent header and the client address (behind proxies named
//! by `--trusted-proxy`, the address they forwarded).

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::Session;
use doorway_core::routes;
use doorway_store::SESSION_TOUCH_INTERVAL;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::{Moment, device, page, to_login};
use crate::audit::{Event, Origin, kind};
use crate::http::error::PageError;
use crate::http::form::{PageForm, TypedQuery};
use crate::http::session::{MaybeUser, check_csrf, csrf_token, end_session};
use crate::state::{AppState, now};
use crate::ui::ser;

/// Longest User-Agent kept: enough to recognise a browser, not a place to store a novel.
const MAX_USER_AGENT: usize = 400;

/// Records the device and address of a session's request, if it was last seen over a minute
/// ago (`last_seen_at` as read with the session). Best effort: a failure is logged, never
/// shown, and the request goes on.
pub async fn record_seen(state: &AppState, session: &Session, last_seen_at: Option<i64>, parts: &Parts) {
    let now = now();
    if last_seen_at.is_some_and(|at| now - at < SESSION_TOUCH_INTERVAL) {
        return;
    }
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT).collect::<String>());
    let ip = crate::throttle::peer_of(&parts.extensions).map(|ip| ip.to_canonical().to_string());
    if let Err(err) = state.store.touch_session(&session.id_hash, user_agent.as_deref(), ip.as_deref(), now).await {
        tracing::warn!(error = %err, "recording when a session was last seen failed");
    }
}

/// Records sessions the person ended themselves: `which` is `this`, `one` (another) or
/// `others` (all but this one).
pub async fn session_ended(state: &AppState, origin: &Origin, user_id: &str, which: &str, count: usize) {
    let event = Event::new(kind::SESSION_ENDED).by_user(user_id).detail(json!({ "which": which, "sessions": count }));
    crate::audit::record(state, origin, event, now()).await;
}

#[derive(Deserialize)]
pub struct PageQuery {
    ended: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<PageQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else {
        return Ok(crate::http::account::login_then(doorway_core::routes::SETTINGS_SESSIONS));
    };
    let now = now();
    let sessions: Vec<_> = state
        .store
        .list_user_sessions(&current.user.id, now)
        .await?
        .into_iter()
        .map(|s| {
            context! {
                current => s.sid == current.session.sid,
                device => device::describe(s.user_agent.as_deref()),
                user_agent => s.user_agent,
                ip => s.ip,
                created => ser(Moment::new(s.created_at, now)),
                last_seen => ser(Moment::new(s.last_seen_at.unwrap_or(s.created_at), now)),
                sid => s.sid,
            }
        })
        .collect();
    let others = sessions.len().saturating_sub(1);
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render(
        "settings_sessions.html",
        context! {
            current_user => ser(&current.user), sessions, others, csrf_token => csrf,
            ended => query.ended, settings_tab => "sessions",
        },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct EndForm {
    csrf_token: Option<String>,
    #[serde(default)]
    sid: String,
}

/// Ends one session of the signed-in person. Ending the current one signs this browser out.
pub async fn end(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    PageForm(form): PageForm<EndForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(to_login()) };
    if form.sid == current.session.sid {
        let jar = end_session(&state, jar).await?;
        session_ended(&state, &origin, &current.user.id, "this", 1).await;
        return Ok((jar, Redirect::to(routes::LOGIN)).into_response());
    }
    // Looked up among this person's sessions only: another account's sid finds nothing.
    match state.store.find_user_session(&current.user.id, &form.sid, now()).await? {
        Some(session) => {
            crate::http::logout::end_session_everywhere(&state, &session).await?;
            session_ended(&state, &origin, &current.user.id, "one", 1).await;
            tracing::info!(user_id = %current.user.id, "the user ended one of their sessions");
            Ok(Redirect::to(&format!("{}?ended=one", routes::SETTINGS_SESSIONS)).into_response())
        }
        None => Ok(Redirect::to(routes::SETTINGS_SESSIONS).into_response()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

/// Ends every session of the person but this one.
pub async fn end_others(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(to_login()) };
    let now = now();
    let sids = state.store.delete_other_sessions(&current.user.id, &current.session.id_hash).await?;
    crate::http::logout::notify_ended_sessions(
        &state.store,
        &state.keys.current(),
        &state.config.issuer,
        &current.user.sub,
        &sids,
        now,
    )
    .await;
    tracing::info!(user_id = %current.user.id, sessions = sids.len(), "the user signed out everywhere else");
    session_ended(&state, &origin, &current.user.id, "others", sids.len()).await;
    Ok(Redirect::to(&format!("{}?ended=others", routes::SETTINGS_SESSIONS)).into_response())
}
