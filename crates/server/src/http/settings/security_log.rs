//! `/settings/security-log`: the security events of the signed-in person's account — sign-ins
//! and failed attempts, lockouts, password changes, apps granted and revoked, their developer
//! apps, changes by an administrator — newest first, a page at a time. Only entries about this
//! person's own account; every value is escaped by the template.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use doorway_store::AuditQuery;
use minijinja::context;
use serde::Deserialize;

use super::{Moment, device, page};
use crate::audit::kind;
use crate::http::error::PageError;
use crate::http::form::TypedQuery;
use crate::http::session::{MaybeUser, csrf_token};
use crate::state::{AppState, now};
use crate::ui::ser;

pub const PATH: &str = "/settings/security-log";
const PAGE_SIZE: i64 = 25;

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<PageQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else {
        return Ok(crate::http::account::login_then(PATH));
    };
    // An id is hex; anything else is ignored (the first page).
    let before = query.before.filter(|b| !b.is_empty() && b.len() <= 64 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    let entries = state
        .store
        .list_audit(&AuditQuery {
            user_id: Some(&current.user.id),
            kind: None,
            before: before.as_deref(),
            limit: PAGE_SIZE,
        })
        .await?;
    let now = now();
    let full = i64::try_from(entries.len()).is_ok_and(|n| n == PAGE_SIZE);
    let older = entries.last().filter(|_| full).map(|e| e.id.clone());
    let events: Vec<_> = entries
        .into_iter()
        .map(|e| {
            // An admin API token, or an operator at the command line (`doorway users …`).
            let by_admin = e.actor_token_id.is_some() || e.detail.get("via").and_then(|v| v.as_str()) == Some("cli");
            let app = e.client_id.clone();
            let reason = e.detail.get("reason").and_then(|r| r.as_str()).map(str::to_owned);
            context! {
                kind => &e.kind,
                what => kind::describe(&e.kind),
                when => ser(Moment::new(e.at, now)),
                device => e.user_agent.as_deref().map(|ua| device::describe(Some(ua))),
                user_agent => e.user_agent,
                ip => e.ip,
                app,
                by_admin,
                reason,
            }
        })
        .collect();
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render(
        "settings_security_log.html",
        context! {
            current_user => ser(&current.user), events, older, first_page => before.is_none(),
            csrf_token => csrf, settings_tab => "security",
        },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}
