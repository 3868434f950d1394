//! `/api/v1/orgs`: organizations for operators — list, create (with a first admin), get,
//! delete, and members. Operators add members directly (no invitation), as `doorway orgs
//! add-member` does; people in the browser invite and the invitee accepts. The last admin of an
//! org cannot be removed (409).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use doorway_core::model::Org;
use doorway_core::secrets::random_hex_id;
use doorway_core::types::{OrgName, OrgRole};
use doorway_store::{MemberChange, NewOrg, StoreError};
use serde::{Deserialize, Serialize};

use super::auth::Admin;
use super::error::ApiError;
use super::{ApiJson, ApiPath, json};
use crate::state::{AppState, now};

#[derive(Serialize)]
struct Member {
    user_id: String,
    username: String,
    role: OrgRole,
    joined_at: i64,
}

#[derive(Serialize)]
struct List<T> {
    data: Vec<T>,
}

async fn find(state: &AppState, name: &str) -> Result<Org, ApiError> {
    state.store.find_org_by_name(name).await?.ok_or_else(|| ApiError::not_found("organization"))
}

async fn members(state: &AppState, org: &Org) -> Result<Vec<Member>, ApiError> {
    Ok(state
        .store
        .org_members(&org.id)
        .await?
        .into_iter()
        .map(|m| Member { user_id: m.user_id, username: m.username, role: m.role, joined_at: m.joined_at })
        .collect())
}

pub async fn list(_: Admin, State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &List { data: state.store.list_orgs().await? }))
}

pub async fn get(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let org = find(&state, &name).await?;
    let mut out = serde_json::to_value(&org).map_err(anyhow::Error::from)?;
    out["members"] = serde_json::to_value(members(&state, &org).await?).map_err(anyhow::Error::from)?;
    Ok(json(StatusCode::OK, &out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    name: String,
    /// The username of the first admin.
    admin: String,
    display_name: Option<String>,
    avatar_url: Option<String>,
}

pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewOrgBody>,
) -> Result<Response, ApiError> {
    let name = OrgName::parse(body.name.trim()).map_err(|e| ApiError::invalid(format!("name: {e}")))?;
    let mut errors = Vec::new();
    let display_name = crate::http::orgs::pages::display_name(body.display_name.as_deref().unwrap_or(""), &mut errors);
    let avatar_url = crate::http::orgs::pages::avatar_url(body.avatar_url.as_deref().unwrap_or(""), &mut errors);
    if let Some(error) = errors.first() {
        return Err(ApiError::invalid(error.trim_end_matches('.').to_owned()));
    }
    let Some(first_admin) = state.store.find_user_by_username(body.admin.trim()).await? else {
        return Err(ApiError::invalid("admin: there is no user with this username"));
    };
    let new = NewOrg { id: uuid::Uuid::new_v4().to_string(), sub: random_hex_id(), name, display_name, avatar_url };
    let org = match state.store.create_org(&new, &first_admin.id, now()).await {
        Ok(org) => org,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict("name: a user or an organization already has this name"));
        }
        Err(err) => return Err(err.into()),
    };
    tracing::info!(target: "audit", event = "org_created", org_id = %org.id, token_id = %admin.token.id,
        "organization created through the admin API");
    Ok(json(StatusCode::CREATED, &org))
}

pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let org = find(&state, &name).await?;
    state.store.delete_org(&org.id).await?;
    tracing::info!(target: "audit", event = "org_deleted", org_id = %org.id, token_id = %admin.token.id,
        "organization deleted through the admin API");
    Ok(json(StatusCode::OK, &org))
}

pub async fn list_members(
    _: Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    let org = find(&state, &name).await?;
    Ok(json(StatusCode::OK, &List { data: members(&state, &org).await? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMemberBody {
    username: String,
    role: String,
}

/// Adds a member directly, or changes the role of an existing one (the last admin keeps theirs).
pub async fn add_member(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<NewMemberBody>,
) -> Result<Response, ApiError> {
    let org = find(&state, &name).await?;
    let role = OrgRole::parse(&body.role).map_err(|e| ApiError::invalid(format!("role: {e}")))?;
    let Some(user) = state.store.find_user_by_username(body.username.trim()).await? else {
        return Err(ApiError::invalid("username: there is no user with this username"));
    };
    if !state.store.add_org_member(&org.id, &user.id, role, now()).await?
        && state.store.set_org_member_role(&org.id, &user.id, role).await? == MemberChange::LastAdmin
    {
        return Err(ApiError::conflict("role: this is the organization's last admin; make another admin first"));
    }
    tracing::info!(target: "audit", event = "org_member_set", org_id = %org.id, member_id = %user.id,
        role = role.as_str(), token_id = %admin.token.id, "organization member set through the admin API");
    Ok(json(StatusCode::OK, &List { data: members(&state, &org).await? }))
}

pub async fn remove_member(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath((name, username)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let org = find(&state, &name).await?;
    let Some(user) = state.store.find_user_by_username(&username).await? else {
        return Err(ApiError::not_found("member"));
    };
    match state.store.remove_org_member(&org.id, &user.id).await? {
        MemberChange::Done => {}
        MemberChange::NotMember => return Err(ApiError::not_found("member")),
        MemberChange::LastAdmin => {
            return Err(ApiError::conflict("this is the organization's last admin; make another admin first"));
        }
    }
    tracing::info!(target: "audit", event = "org_member_removed", org_id = %org.id, member_id = %user.id,
        token_id = %admin.token.id, "organization member removed through the admin API");
    Ok(json(StatusCode::OK, &List { data: members(&state, &org).await? }))
}
