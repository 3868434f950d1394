//! The admin API's routes, in one table: the router is built from it and so is the OpenAPI
//! document, so a route cannot be served undocumented or documented unserved.

use axum::routing::{MethodFilter, MethodRouter, on};

use super::{apps, audit, grants, keys, orgs, scopes, users};
use crate::state::AppState;

/// The HTTP methods the admin API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiMethod {
    Get,
    Post,
    Patch,
    Delete,
}

impl ApiMethod {
    pub const ALL: [ApiMethod; 4] = [Self::Get, Self::Post, Self::Patch, Self::Delete];

    pub fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
            Self::Patch => MethodFilter::PATCH,
            Self::Delete => MethodFilter::DELETE,
        }
    }

    /// Lower case, as OpenAPI keys operations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }
}

/// A query parameter, documented.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    pub name: &'static str,
    pub description: &'static str,
    /// `integer` or `string`.
    pub kind: &'static str,
}

/// One operation of the admin API.
pub struct Route {
    pub method: ApiMethod,
    /// axum's syntax, which is OpenAPI's: `/api/v1/users/{id}`.
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub query: &'static [QueryParam],
    /// The request body's schema (in `components.schemas`), if the operation takes one.
    pub request: Option<&'static str>,
    /// Whether the body may be omitted (every field optional).
    pub request_optional: bool,
    /// The success status and its body's schema (`None`: no body).
    pub success: (u16, Option<&'static str>),
    /// The handler, on `method`.
    pub handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

const PAGING: &[QueryParam] = &[
    QueryParam { name: "limit", description: "Page size, 1 to 200 (default 50).", kind: "integer" },
    QueryParam {
        name: "cursor",
        description: "`next_cursor` of the previous page; omit for the first page.",
        kind: "string",
    },
];

/// Every admin API route. Path parameters: `{id}` is a user's id, `{client_id}` an app's.
pub const ROUTES: &[Route] = &[
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/users",
        operation_id: "listUsers",
        tag: "users",
        summary: "List users in creation order, a page at a time.",
        query: PAGING,
        request: None,
        request_optional: false,
        success: (200, Some("UserPage")),
        handler: |m| on(m, users::list),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/users",
        operation_id: "createUser",
        tag: "users",
        summary: "Create a user. Without `password`, one is generated and returned once.",
        query: &[],
        request: Some("NewUser"),
        request_optional: false,
        success: (201, Some("CreatedUser")),
        handler: |m| on(m, users::create),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/users/{id}",
        operation_id: "getUser",
        tag: "users",
        summary: "Get a user.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("User")),
        handler: |m| on(m, users::get),
    },
    Route {
        method: ApiMethod::Patch,
        path: "/api/v1/users/{id}",
        operation_id: "updateUser",
        tag: "users",
        summary: "Change a user's flags (administrator, pro, can pay, email verified).",
        query: &[],
        request: Some("UserUpdate"),
        request_optional: false,
        success: (200, Some("User")),
        handler: |m| on(m, users::update),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/users/{id}/disable",
        operation_id: "disableUser",
        tag: "users",
        summary: "Disable a user: no more sign-in; every token revoked, every session ended.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("User")),
        handler: |m| on(m, users::disable),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/users/{id}/enable",
        operation_id: "enableUser",
        tag: "users",
        summary: "Enable a disabled user (revoked tokens stay revoked).",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("User")),
        handler: |m| on(m, users::enable),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/users/{id}/grants",
        operation_id: "listGrants",
        tag: "grants",
        summary: "The apps a user granted access to (their consents).",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("GrantList")),
        handler: |m| on(m, grants::list),
    },
    Route {
        method: ApiMethod::Delete,
        path: "/api/v1/users/{id}/grants/{client_id}",
        operation_id: "revokeGrant",
        tag: "grants",
        summary: "Revoke a user's grant to an app: the consent and every token; the next sign-in asks again.",
        query: &[],
        request: None,
        request_optional: false,
        success: (204, None),
        handler: |m| on(m, grants::revoke),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/apps",
        operation_id: "listApps",
        tag: "apps",
        summary: "List apps in creation order, a page at a time.",
        query: PAGING,
        request: None,
        request_optional: false,
        success: (200, Some("AppPage")),
        handler: |m| on(m, apps::list),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/apps",
        operation_id: "createApp",
        tag: "apps",
        summary: "Register an app. A confidential app's secret is in this response only.",
        query: &[],
        request: Some("NewApp"),
        request_optional: false,
        success: (201, Some("CreatedApp")),
        handler: |m| on(m, apps::create),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/apps/{client_id}",
        operation_id: "getApp",
        tag: "apps",
        summary: "Get an app (never its secret).",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("App")),
        handler: |m| on(m, apps::get),
    },
    Route {
        method: ApiMethod::Patch,
        path: "/api/v1/apps/{client_id}",
        operation_id: "updateApp",
        tag: "apps",
        summary: "Change an app's settings; fields not sent stay as they are, `null` clears an optional one.",
        query: &[],
        request: Some("AppUpdate"),
        request_optional: false,
        success: (200, Some("App")),
        handler: |m| on(m, apps::update),
    },
    Route {
        method: ApiMethod::Delete,
        path: "/api/v1/apps/{client_id}",
        operation_id: "deleteApp",
        tag: "apps",
        summary: "Delete an app and everything issued to it.",
        query: &[],
        request: None,
        request_optional: false,
        success: (204, None),
        handler: |m| on(m, apps::delete),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/apps/{client_id}/rotate-secret",
        operation_id: "rotateAppSecret",
        tag: "apps",
        summary: "Issue a new client secret, returned once; the old one stops working (after the grace period, if any).",
        query: &[],
        request: Some("RotateSecret"),
        request_optional: true,
        success: (200, Some("AppSecret")),
        handler: |m| on(m, apps::rotate_secret),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/keys",
        operation_id: "listKeys",
        tag: "keys",
        summary: "Signing keys and their states (next, active, retired); public information only.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("KeyList")),
        handler: |m| on(m, keys::list),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/keys/rotate",
        operation_id: "rotateKeys",
        tag: "keys",
        summary: "Publish a new signing key per algorithm; it signs after key_publish_ahead, or at once with `now`.",
        query: &[],
        request: Some("RotateKeys"),
        request_optional: true,
        success: (200, Some("KeyList")),
        handler: |m| on(m, keys::rotate),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/scopes",
        operation_id: "listScopes",
        tag: "scopes",
        summary: "The scope registry: each scope's description (shown at consent) and the claims it releases.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("ScopeList")),
        handler: |m| on(m, scopes::list),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/audit",
        operation_id: "listAuditEvents",
        tag: "audit",
        summary: "The security log, newest first: sign-ins, lockouts, password changes, consents, apps, admin writes.",
        query: &[
            QueryParam { name: "user_id", description: "Only entries concerning this user (by id).", kind: "string" },
            QueryParam {
                name: "kind",
                description: "Only entries of this kind (`sign_in.failed`, `admin.write`, …).",
                kind: "string",
            },
            QueryParam {
                name: "before",
                description: "`next_before` of the previous page; omit for the newest entries.",
                kind: "string",
            },
            QueryParam { name: "limit", description: "Page size, 1 to 200 (default 50).", kind: "integer" },
        ],
        request: None,
        request_optional: false,
        success: (200, Some("AuditPage")),
        handler: |m| on(m, audit::list),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/orgs",
        operation_id: "listOrgs",
        tag: "orgs",
        summary: "List organizations by name.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("OrgList")),
        handler: |m| on(m, orgs::list),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/orgs",
        operation_id: "createOrg",
        tag: "orgs",
        summary: "Create an organization; `admin` (a username) becomes its first admin.",
        query: &[],
        request: Some("NewOrg"),
        request_optional: false,
        success: (201, Some("Org")),
        handler: |m| on(m, orgs::create),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/orgs/{org}",
        operation_id: "getOrg",
        tag: "orgs",
        summary: "Get an organization and its members.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("OrgWithMembers")),
        handler: |m| on(m, orgs::get),
    },
    Route {
        method: ApiMethod::Delete,
        path: "/api/v1/orgs/{org}",
        operation_id: "deleteOrg",
        tag: "orgs",
        summary: "Delete an organization, its memberships, invitations and app grants.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("Org")),
        handler: |m| on(m, orgs::delete),
    },
    Route {
        method: ApiMethod::Get,
        path: "/api/v1/orgs/{org}/members",
        operation_id: "listOrgMembers",
        tag: "orgs",
        summary: "List an organization's members and their roles.",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("OrgMemberList")),
        handler: |m| on(m, orgs::list_members),
    },
    Route {
        method: ApiMethod::Post,
        path: "/api/v1/orgs/{org}/members",
        operation_id: "addOrgMember",
        tag: "orgs",
        summary: "Add a member directly (no invitation), or change a member's role.",
        query: &[],
        request: Some("NewOrgMember"),
        request_optional: false,
        success: (200, Some("OrgMemberList")),
        handler: |m| on(m, orgs::add_member),
    },
    Route {
        method: ApiMethod::Delete,
        path: "/api/v1/orgs/{org}/members/{username}",
        operation_id: "removeOrgMember",
        tag: "orgs",
        summary: "Remove a member; the last admin cannot be removed (409).",
        query: &[],
        request: None,
        request_optional: false,
        success: (200, Some("OrgMemberList")),
        handler: |m| on(m, orgs::remove_member),
    },
];
