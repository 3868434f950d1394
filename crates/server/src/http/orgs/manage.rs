//! `/settings/organizations`: a person's organizations and the invitations waiting for them,
//! and one page per org to manage it. Anyone may leave; only an admin invites, changes roles,
//! removes members or withdraws invitations; the last admin can neither leave nor be demoted.
//! Invitations are accepted by the invitee: nobody becomes a member (and shows up in `orgs`
//! claims) without consenting.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use doorway_core::model::Org;
use doorway_core::routes;
use doorway_core::types::OrgRole;
use doorway_store::{InviteOutcome, MemberChange, ORG_INVITATION_TTL};
use minijinja::context;
use serde::Deserialize;

use super::org_picture;
use crate::http::account::login_then;
use crate::http::error::PageError;
use crate::http::form::{PageForm, PagePath, TypedQuery};
use crate::http::session::{CurrentUser, MaybeUser, check_csrf, csrf_token};
use crate::http::settings::Moment;
use crate::state::{AppState, now};
use crate::ui::ser;

fn page(jar: CookieJar, status: StatusCode, html: String) -> Response {
    (status, jar, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// The notices a redirect may ask a page to show (never free text from the URL).
fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "accepted" => "Invitation accepted: you are now a member.",
        "declined" => "Invitation declined.",
        "left" => "You left the organization.",
        "invited" => "Invitation sent. The person becomes a member once they accept it.",
        "reinvited" => "The pending invitation now offers the role you chose.",
        "role" => "Role changed.",
        "removed" => "Member removed.",
        "withdrawn" => "Invitation withdrawn.",
        "profile" => "Profile saved.",
        _ => return None,
    })
}

pub async fn list(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    TypedQuery(query): TypedQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let orgs: Vec<_> = state
        .store
        .user_orgs(&current.user.id)
        .await?
        .into_iter()
        .map(|m| {
            context! {
                name => &m.org.name, title => m.org.title(), picture => org_picture(&state, &m.org), role => m.role.as_str(),
            }
        })
        .collect();
    let now = now();
    let invitations: Vec<_> = state
        .store
        .user_org_invitations(&current.user.id, now)
        .await?
        .into_iter()
        .map(|i| {
            context! {
                name => &i.org.name, title => i.org.title(), role => i.role.as_str(),
                expires => ser(Moment::new(i.expires_at, now)),
            }
        })
        .collect();
    let (jar, csrf) = csrf_token(&state, jar);
    let html = state.ui.render(
        "orgs_settings.html",
        context! {
            current_user => ser(&current.user), orgs, invitations, csrf_token => csrf,
            notice => notice_text(query.notice.as_deref()),
        },
    )?;
    Ok(page(jar, StatusCode::OK, html))
}

#[derive(Deserialize)]
pub struct InvitationForm {
    csrf_token: Option<String>,
    #[serde(default)]
    org: String,
    #[serde(default)]
    decision: String,
}

/// The invitee's answer to an invitation.
pub async fn answer_invitation(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PageForm(form): PageForm<InvitationForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let Some(org) = state.store.find_org_by_name(&form.org).await? else { return Err(PageError::not_found()) };
    let user_id = &current.user.id;
    let notice = match form.decision.as_str() {
        "accept" if state.store.accept_org_invitation(&org.id, user_id, now()).await? => "accepted",
        "accept" if state.store.org_invitation_expired(&org.id, user_id, now()).await? => {
            return Err(PageError::new(
                StatusCode::GONE,
                "This invitation has expired",
                format!(
                    "Invitations to an organization are valid for {} days. Ask an admin of {} to invite you again.",
                    ORG_INVITATION_TTL / 86_400,
                    org.title()
                ),
            ));
        }
        "decline" if state.store.delete_org_invitation(&org.id, user_id).await? => "declined",
        "accept" | "decline" => return Err(PageError::bad_request("There is no invitation to answer.")),
        _ => return Err(PageError::bad_request("Choose Accept or Decline.")),
    };
    tracing::info!(target: "audit", event = "org_invitation_answered", org_id = %org.id, user_id = %user_id,
        decision = notice, "organization invitation answered");
    Ok(Redirect::to(&format!("{}?notice={notice}", routes::SETTINGS_ORGS)).into_response())
}

/// The org named in the path and the signed-in person's role in it; 404 for a non-member.
async fn membership(state: &AppState, current: &CurrentUser, name: &str) -> Result<(Org, OrgRole), PageError> {
    let Some(org) = state.store.find_org_by_name(name).await? else { return Err(PageError::not_found()) };
    match state.store.org_role(&org.id, &current.user.id).await? {
        Some(role) => Ok((org, role)),
        None => Err(PageError::not_found()),
    }
}

fn require_admin(role: OrgRole) -> Result<(), PageError> {
    if role == OrgRole::Admin {
        return Ok(());
    }
    tracing::warn!(target: "security", event = "org_admin_required", "a non-admin tried to manage an organization");
    Err(PageError::new(
        StatusCode::FORBIDDEN,
        "Only admins can do this",
        "Only the admins of this organization can manage its members and invitations.",
    ))
}

#[allow(clippy::too_many_arguments)]
async fn render_manage(
    state: &AppState,
    jar: CookieJar,
    current: &CurrentUser,
    org: &Org,
    role: OrgRole,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let members: Vec<_> = state
        .store
        .org_members(&org.id)
        .await?
        .into_iter()
        .map(|m| context! { username => m.username, role => m.role.as_str() })
        .collect();
    let invitations: Vec<_> = if role == OrgRole::Admin {
        state
            .store
            .org_invitations(&org.id, now())
            .await?
            .into_iter()
            .map(|i| context! { username => i.username, role => i.role.as_str(), expires => ser(Moment::new(i.expires_at, now())) })
            .collect()
    } else {
        Vec::new()
    };
    let (jar, csrf) = csrf_token(state, jar);
    let html = state.ui.render(
        "orgs_manage.html",
        context! {
            current_user => ser(&current.user),
            org => context! {
                name => &org.name, title => org.title(), picture => org_picture(state, org),
                display_name => &org.display_name, avatar_url => &org.avatar_url,
            },
            my_role => role.as_str(), is_admin => role == OrgRole::Admin,
            roles => OrgRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            members, invitations, notice, error, csrf_token => csrf,
        },
    )?;
    Ok(page(jar, status, html))
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PagePath(name): PagePath<String>,
    TypedQuery(query): TypedQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let (org, role) = membership(&state, &current, &name).await?;
    let notice = notice_text(query.notice.as_deref());
    render_manage(&state, jar, &current, &org, role, notice, None, StatusCode::OK).await
}

fn back_to(org: &Org, notice: &str) -> Response {
    Redirect::to(&format!("{}/{}?notice={notice}", routes::SETTINGS_ORGS, org.name)).into_response()
}

#[derive(Deserialize)]
pub struct MemberForm {
    csrf_token: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    action: String,
}

/// An admin invites someone by username, with a role.
pub async fn invite(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PagePath(name): PagePath<String>,
    PageForm(form): PageForm<MemberForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let (org, role) = membership(&state, &current, &name).await?;
    require_admin(role)?;
    let invitee = state.store.find_user_by_username(form.username.trim()).await?.filter(|u| !u.disabled);
    let outcome = match (OrgRole::parse(&form.role), invitee) {
        (Err(_), _) => Err("Choose a role."),
        (_, None) => Err("There is no account with this username."),
        (Ok(new_role), Some(invitee)) => {
            match state.store.invite_to_org(&org.id, &invitee.id, new_role, &current.user.id, now()).await? {
                InviteOutcome::Invited => Ok(("invited", invitee, new_role)),
                InviteOutcome::AlreadyInvited => Ok(("reinvited", invitee, new_role)),
                InviteOutcome::AlreadyMember => Err("This person is already a member."),
            }
        }
    };
    match outcome {
        Ok((notice, invitee, new_role)) => {
            tracing::info!(target: "audit", event = "org_member_invited", org_id = %org.id, user_id = %current.user.id,
                invitee_id = %invitee.id, role = new_role.as_str(), "organization invitation sent");
            Ok(back_to(&org, notice))
        }
        Err(message) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_manage(&state, jar, &current, &org, role, None, Some(message), status).await
        }
    }
}

/// An admin changes a member's role or removes them.
pub async fn change_member(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PagePath(name): PagePath<String>,
    PageForm(form): PageForm<MemberForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let (org, role) = membership(&state, &current, &name).await?;
    require_admin(role)?;
    let Some(member) = state.store.find_user_by_username(form.username.trim()).await? else {
        return Err(PageError::bad_request("There is no account with this username."));
    };
    let (change, notice) = match form.action.as_str() {
        "role" => {
            let new_role = OrgRole::parse(&form.role).map_err(|e| PageError::bad_request(e.to_owned()))?;
            (state.store.set_org_member_role(&org.id, &member.id, new_role).await?, "role")
        }
        "remove" => (state.store.remove_org_member(&org.id, &member.id).await?, "removed"),
        _ => return Err(PageError::bad_request("Choose Change role or Remove.")),
    };
    match change {
        MemberChange::Done => {
            tracing::info!(target: "audit", event = "org_member_changed", org_id = %org.id, user_id = %current.user.id,
                member_id = %member.id, change = notice, "organization membership changed");
            Ok(back_to(&org, notice))
        }
        MemberChange::NotMember => Err(PageError::bad_request("This person is not a member.")),
        MemberChange::LastAdmin => {
            // The acting admin may have demoted themselves: their role is read again.
            let role = state.store.org_role(&org.id, &current.user.id).await?.unwrap_or(role);
            let message = "An organization needs at least one admin: make someone else an admin first.";
            render_manage(&state, jar, &current, &org, role, None, Some(message), StatusCode::CONFLICT).await
        }
    }
}

/// An admin withdraws a pending invitation.
pub async fn withdraw(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PagePath(name): PagePath<String>,
    PageForm(form): PageForm<MemberForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let (org, role) = membership(&state, &current, &name).await?;
    require_admin(role)?;
    if let Some(invitee) = state.store.find_user_by_username(form.username.trim()).await? {
        state.store.delete_org_invitation(&org.id, &invitee.id).await?;
    }
    Ok(back_to(&org, "withdrawn"))
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf_token: Option<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    avatar_url: String,
}

/// An admin changes the org's display name and avatar (its name, which apps may store, stays).
pub async fn update_profile(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PagePath(name): PagePath<String>,
    PageForm(form): PageForm<ProfileForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let (org, role) = membership(&state, &current, &name).await?;
    require_admin(role)?;
    let mut errors = Vec::new();
    let display_name = super::pages::display_name(&form.display_name, &mut errors);
    let avatar_url = super::pages::avatar_url(&form.avatar_url, &mut errors);
    if let Some(error) = errors.first() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_manage(&state, jar, &current, &org, role, None, Some(error), status).await;
    }
    state.store.update_org_profile(&org.id, display_name.as_deref(), avatar_url.as_deref(), now()).await?;
    tracing::info!(target: "audit", event = "org_profile_changed", org_id = %org.id, user_id = %current.user.id,
        "organization profile changed");
    Ok(back_to(&org, "profile"))
}

#[derive(Deserialize)]
pub struct LeaveForm {
    csrf_token: Option<String>,
}

/// Any member leaves, except the last admin.
pub async fn leave(
    State(state): State<AppState>,
    jar: CookieJar,
    MaybeUser(user): MaybeUser,
    PagePath(name): PagePath<String>,
    PageForm(form): PageForm<LeaveForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &jar, form.csrf_token.as_deref())?;
    let Some(current) = user else { return Ok(login_then(routes::SETTINGS_ORGS)) };
    let (org, role) = membership(&state, &current, &name).await?;
    match state.store.remove_org_member(&org.id, &current.user.id).await? {
        MemberChange::Done => {
            tracing::info!(target: "audit", event = "org_left", org_id = %org.id, user_id = %current.user.id,
                "left an organization");
            Ok(Redirect::to(&format!("{}?notice=left", routes::SETTINGS_ORGS)).into_response())
        }
        MemberChange::NotMember => Err(PageError::not_found()),
        MemberChange::LastAdmin => {
            let message = "You are this organization's last admin: make someone else an admin before leaving.";
            render_manage(&state, jar, &current, &org, role, None, Some(message), StatusCode::CONFLICT).await
        }
    }
}
