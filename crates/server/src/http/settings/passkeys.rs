//! `/settings/passkeys`: a person's passkeys — name, when added and last used — with rename and
//! remove forms, and the "Add a passkey" button that `static/passkeys.js` drives. A person only
//! ever sees and changes their own: another account's passkey id is a 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::{Moment, page, to_login};
use crate::audit::{Event, Origin, kind};
use crate::http::error::PageError;
use crate::http::form::{PageForm, PagePath, TypedQuery};
use crate::http::passkeys::parse_name;
use crate::http::session::{MaybeUser, check_csrf, csrf_token};
use crate::state::{AppState, now};
use crate::ui::ser;

pub const PATH: &str = "/settings/passkeys";
pub const RENAME: &str = "/settings/passkeys/{id}/rename";
pub const DELETE: &str = "/settings/passkeys/{id}/delete";

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
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
    render(&state, jar, &current.user, query.done.as_deref(), None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    user: &doorway_core::model::User,
    done: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let now = now();
    let passkeys: Vec<_> = state
        .store
        .list_passkeys(&user.id)
        .await?
        .into_iter()
        .map(|p| {
            context! {
                id => p.id,
                name => p.name,
                created => ser(Moment::new(p.created_at, now)),
                last_used => p.last_used_at.map(|at| ser(Moment::new(at, now))),
            }
        })
        .collect();
    // Only known outcomes are echoed back as notices.
    let done = done.filter(|d| matches!(*d, "added" | "renamed" | "removed"));
    let (jar, csrf) = csrf_token(state, jar);
    let html = state.ui.render(
        "settings_passkeys.html",
        context! {
            current_user => ser(user), passkeys, csrf_token => csrf, done, error,
            available => crate::webauthn::available(&state.config), settings_tab => "passkeys",
        },
    )?;
    Ok(page(jar, status, html))
}

#[derive(Deserialize)]
pub struct RenameForm {
    csrf_token: Option<String>,
    #[serde(default)]
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    PagePath(id): PagePath<String>,
    PageForm(form): PageForm<RenameForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(to_login()) };
    let name = match parse_name(&form.name) {
        Ok(name) if !name.is_empty() => name,
        Ok(_) => {
            return render(
                &state,
                jar,
                &current.user,
                None,
                Some("Give the passkey a name."),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(message) => {
            return render(&state, jar, &current.user, None, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    // Only among this person's passkeys: another account's id finds nothing.
    if !state.store.rename_passkey(&current.user.id, &id, &name).await? {
        return Err(PageError::not_found());
    }
    let event =
        Event::new(kind::PASSKEY_RENAMED).by_user(&current.user.id).detail(json!({ "passkey_id": id, "name": name }));
    crate::audit::record(&state, &origin, event, now()).await;
    Ok(Redirect::to(&format!("{PATH}?done=renamed")).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    origin: Origin,
    PagePath(id): PagePath<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(to_login()) };
    let Some(name) = state.store.delete_passkey(&current.user.id, &id).await? else {
        return Err(PageError::not_found());
    };
    let event =
        Event::new(kind::PASSKEY_REMOVED).by_user(&current.user.id).detail(json!({ "passkey_id": id, "name": name }));
    crate::audit::record(&state, &origin, event, now()).await;
    tracing::info!(user_id = %current.user.id, "passkey removed");
    Ok(Redirect::to(&format!("{PATH}?done=removed")).into_response())
}
