//! The admin API's OpenAPI 3.1 document, built from [`ROUTES`] (operations, parameters, status
//! codes) and the schemas below, and served at `/api/openapi.json`. Hand-written JSON: the
//! schemas describe the wire format the handlers produce, which the tests check.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::TOKEN_PREFIX;
use super::routes::{ApiMethod, ROUTES, Route};
use crate::state::AppState;

pub async fn document(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")],
        build(&state.config.issuer).to_string(),
    )
        .into_response()
}

/// The whole document.
pub fn build(issuer: &str) -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths.entry(route.path).or_insert_with(|| json!({}));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.as_str().to_owned(), operation(route));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Doorway admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Operate a Doorway installation: users, apps, grants, signing keys and the scope \
                registry. Authenticate with an admin API token (`doorway admin-tokens create`) sent as \
                `Authorization: Bearer dwa_…`. Errors are `{\"error\", \"error_description\"}`.",
        },
        "servers": [{ "url": issuer }],
        "security": [{ "adminToken": [] }],
        "tags": [
            { "name": "users", "description": "Accounts." },
            { "name": "grants", "description": "What users granted to apps." },
            { "name": "apps", "description": "OAuth apps (clients)." },
            { "name": "keys", "description": "Signing keys." },
            { "name": "scopes", "description": "The scope registry." },
            { "name": "orgs", "description": "Organizations and their members." },
            { "name": "audit", "description": "The security log." },
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": format!("{TOKEN_PREFIX}…"),
                    "description": "An admin API token. Browser sessions and OAuth access tokens are not accepted.",
                },
            },
            "responses": responses(),
            "schemas": schemas(),
        },
    })
}

/// The names of a path's parameters: `/api/v1/users/{id}` → `["id"]`.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

fn operation(route: &Route) -> Value {
    let mut parameters: Vec<Value> = path_params(route.path)
        .into_iter()
        .map(|name| {
            let description = match name {
                "id" => "The user's id (`id` in the user object; not the username, not `sub`).",
                "client_id" => "The app's client_id.",
                "org" => "The organization's name (case-insensitive).",
                "username" => "The member's username.",
                _ => "",
            };
            json!({ "name": name, "in": "path", "required": true, "description": description,
                    "schema": { "type": "string" } })
        })
        .collect();
    parameters.extend(route.query.iter().map(|q| {
        json!({ "name": q.name, "in": "query", "required": false, "description": q.description,
                "schema": { "type": q.kind } })
    }));
    let (status, body) = route.success;
    let mut responses = Map::new();
    let success = match body {
        Some(schema) => json!({
            "description": "Success.",
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } },
        }),
        None => json!({ "description": "Done; no content." }),
    };
    responses.insert(status.to_string(), success);
    let mut errors = vec!["401"];
    if route.method != ApiMethod::Get {
        errors.push("403");
    }
    if !path_params(route.path).is_empty() {
        errors.push("404");
    }
    if route.request.is_some() {
        errors.extend(["400", "415"]);
    }
    if route.request.is_some() || !route.query.is_empty() {
        errors.push("422");
    }
    if matches!(route.operation_id, "createUser" | "createOrg" | "addOrgMember" | "removeOrgMember") {
        errors.push("409");
    }
    for code in errors {
        responses.insert(code.to_owned(), json!({ "$ref": format!("#/components/responses/{code}") }));
    }
    let mut op = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(schema) = route.request {
        op["requestBody"] = json!({
            "required": !route.request_optional,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } },
        });
    }
    op
}

fn responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        })
    };
    let mut unauthorized = error("No admin API token, or one that is unknown or revoked (`WWW-Authenticate: Bearer`).");
    unauthorized["headers"] = json!({ "WWW-Authenticate": { "schema": { "type": "string" } } });
    json!({
        "400": error("The body is not JSON."),
        "401": unauthorized,
        "403": error("The token is read-only (`insufficient_scope`)."),
        "404": error("No such user, app or grant."),
        "409": error("The username or email is taken."),
        "415": error("The body is not sent as application/json."),
        "422": error("A field or parameter is invalid; the description names it."),
    })
}

fn string() -> Value {
    json!({ "type": "string" })
}
fn nullable_string() -> Value {
    json!({ "type": ["string", "null"] })
}
fn boolean() -> Value {
    json!({ "type": "boolean" })
}
fn time() -> Value {
    json!({ "type": "integer", "description": "Unix time, seconds." })
}
fn nullable_time() -> Value {
    json!({ "type": ["integer", "null"], "description": "Unix time, seconds." })
}
fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}
fn words() -> Value {
    json!({ "description": "Space-separated words, or an array of them.",
            "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] })
}
fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}
fn page(item: &str) -> Value {
    object(
        &["data", "next_cursor"],
        json!({
            "data": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } },
            "next_cursor": { "type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last." },
        }),
    )
}
fn list(item: &str) -> Value {
    object(
        &["data"],
        json!({ "data": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } } }),
    )
}
fn with(base: &str, extra: Value) -> Value {
    json!({ "allOf": [{ "$ref": format!("#/components/schemas/{base}") }, extra] })
}

fn schemas() -> Value {
    let user = object(
        &[
            "id",
            "sub",
            "username",
            "email",
            "email_verified",
            "is_admin",
            "is_pro",
            "can_pay",
            "disabled",
            "created_at",
        ],
        json!({
            "id": string(), "sub": { "type": "string", "description": "The identifier apps see." },
            "username": string(), "email": string(), "email_verified": boolean(),
            "name": nullable_string(), "avatar_url": nullable_string(), "website": nullable_string(),
            "is_admin": boolean(), "is_pro": boolean(), "can_pay": boolean(), "disabled": boolean(),
            "created_at": time(),
        }),
    );
    let app = object(
        &["client_id", "kind", "name", "redirect_uris", "redirect_policy", "scopes", "grant_types", "created_at"],
        json!({
            "client_id": string(),
            "kind": { "enum": ["confidential", "public"] },
            "name": string(), "description": nullable_string(),
            "homepage_url": nullable_string(), "logo_uri": nullable_string(),
            "policy_uri": nullable_string(), "tos_uri": nullable_string(),
            "redirect_uris": strings(),
            "redirect_policy": { "enum": ["exact", "origin"] },
            "scopes": { "type": "string", "description": "Space-separated." },
            "require_pkce": boolean(),
            "id_token_alg": { "enum": ["RS256", "PS256", "ES256", "EdDSA"] },
            "owner_id": nullable_string(),
            "created_at": time(),
            "grant_types": { "type": "string", "description": "Space-separated." },
            "post_logout_redirect_uris": strings(),
            "backchannel_logout_uri": nullable_string(),
            "first_party": boolean(),
            "access_token_ttl": { "type": ["integer", "null"], "description": "Seconds; null = the server's default." },
            "access_token_format": { "enum": ["opaque", "jwt"], "description": "jwt: RFC 9068 access tokens signed with the id_token_alg key." },
            "authorized_org": nullable_string(),
        }),
    );
    let app_fields = json!({
        "name": string(), "redirect_uris": strings(), "scopes": words(),
        "redirect_policy": { "enum": ["exact", "origin"] }, "grant_types": words(), "require_pkce": boolean(),
        "id_token_alg": { "enum": ["RS256", "PS256", "ES256", "EdDSA"] },
        "description": nullable_string(), "homepage_url": nullable_string(), "logo_uri": nullable_string(),
        "policy_uri": nullable_string(), "tos_uri": nullable_string(), "post_logout_redirect_uris": strings(),
        "backchannel_logout_uri": nullable_string(), "first_party": boolean(),
        "access_token_ttl": { "type": ["integer", "null"], "minimum": 60, "maximum": 2_592_000 },
        "access_token_format": { "enum": ["opaque", "jwt"] },
        "authorized_org": nullable_string(),
    });
    let mut new_app_fields = app_fields.clone();
    new_app_fields["kind"] = json!({ "enum": ["confidential", "public"], "default": "confidential" });
    let mut schemas = json!({
        "Error": object(&["error", "error_description"], json!({ "error": string(), "error_description": string() })),
        "User": user,
        "UserPage": page("User"),
        "NewUser": object(&["username", "email"], json!({
            "username": string(), "email": string(), "name": string(),
            "password": { "type": "string", "description": "Omit to have one generated and returned once." },
            "email_verified": boolean(), "is_admin": boolean(), "is_pro": boolean(), "can_pay": boolean(),
        })),
        "CreatedUser": with("User", json!({ "type": "object", "properties": {
            "password": { "type": "string", "description": "Present only when generated: shown once." } } })),
        "UserUpdate": object(&[], json!({
            "is_admin": boolean(), "is_pro": boolean(), "can_pay": boolean(), "email_verified": boolean() })),
        "Grant": object(&["client_id", "app_name", "scopes", "granted_at", "updated_at", "last_used_at"], json!({
            "client_id": string(), "app_name": string(), "scopes": strings(), "granted_at": time(),
            "updated_at": time(), "last_used_at": nullable_time() })),
        "GrantList": list("Grant"),
        "App": app,
        "AppPage": page("App"),
        "NewApp": { "type": "object", "required": ["name"], "properties": new_app_fields },
        "CreatedApp": with("App", json!({ "type": "object", "required": ["client_secret"], "properties": {
            "client_secret": { "type": ["string", "null"], "description": "Confidential apps: shown once. Null for public apps." } } })),
        "AppUpdate": { "type": "object", "description": "Only the fields sent change; null clears an optional one.",
                       "properties": app_fields },
        "RotateSecret": object(&[], json!({ "grace_seconds": {
            "type": "integer", "minimum": 0, "maximum": 604_800, "default": 0,
            "description": "How long the old secret keeps working." } })),
        "AppSecret": object(&["client_id", "client_secret"], json!({
            "client_id": string(), "client_secret": { "type": "string", "description": "Shown once." },
            "previous_secret_expires_at": nullable_time() })),
        "Key": object(&["kid", "alg", "status", "created_at"], json!({
            "kid": string(), "alg": string(), "status": { "enum": ["next", "active", "retired"] },
            "created_at": time(), "activated_at": nullable_time(), "retired_at": nullable_time() })),
        "KeyList": list("Key"),
        "RotateKeys": object(&[], json!({
            "algs": { "type": "array", "items": { "enum": ["RS256", "PS256", "ES256", "EdDSA"] },
                      "description": "Default: every algorithm." },
            "now": { "type": "boolean", "default": false, "description": "Sign with the new keys at once." } })),
        "Scope": object(&["name", "description", "claims"], json!({
            "name": string(), "description": { "type": "string", "description": "Shown on the consent page." },
            "claims": strings() })),
        "ScopeList": list("Scope"),
    });
    // Apart: one `json!` this large would pass the macro recursion limit.
    if let (Value::Object(all), Value::Object(orgs)) = (&mut schemas, org_schemas()) {
        all.extend(orgs);
    }
    schemas["AuditEvent"] = audit_event();
    schemas["AuditPage"] = object(
        &["data", "next_before"],
        json!({
            "data": { "type": "array", "items": { "$ref": "#/components/schemas/AuditEvent" } },
            "next_before": { "type": ["string", "null"], "description": "Pass as `before` for the next page; null on the last." },
        }),
    );
    schemas
}

/// The organizations' schemas.
fn org_schemas() -> Value {
    json!({
        "Org": object(&["id", "sub", "name", "display_name", "avatar_url", "is_enterprise", "created_at"], json!({
            "id": string(), "sub": { "type": "string", "description": "The identifier apps see in the `orgs` claim." },
            "name": string(), "display_name": nullable_string(), "avatar_url": nullable_string(),
            "is_enterprise": boolean(), "created_at": time() })),
        "OrgList": list("Org"),
        "OrgWithMembers": with("Org", json!({ "type": "object", "required": ["members"], "properties": {
            "members": { "type": "array", "items": { "$ref": "#/components/schemas/OrgMember" } } } })),
        "NewOrg": object(&["name", "admin"], json!({
            "name": { "type": "string", "description": "The same rules as usernames; no user or org may have it." },
            "admin": { "type": "string", "description": "The username of the first admin." },
            "display_name": string(), "avatar_url": { "type": "string", "description": "https only." } })),
        "OrgMember": object(&["user_id", "username", "role", "joined_at"], json!({
            "user_id": string(), "username": string(),
            "role": { "enum": ["admin", "write", "contributor", "read"] }, "joined_at": time() })),
        "OrgMemberList": list("OrgMember"),
        "NewOrgMember": object(&["username", "role"], json!({
            "username": string(), "role": { "enum": ["admin", "write", "contributor", "read"] } })),
    })
}

fn audit_event() -> Value {
    object(
        &["id", "at", "kind", "detail"],
        json!({
            "id": { "type": "string", "description": "Sorts by time; pass as `before` to page." },
            "at": time(),
            "kind": { "enum": crate::audit::kind::ALL },
            "user_id": { "type": ["string", "null"], "description": "The account the entry concerns." },
            "actor_user_id": { "type": ["string", "null"], "description": "The person who acted." },
            "actor_token_id": { "type": ["string", "null"], "description": "The admin API token that acted." },
            "client_id": nullable_string(), "ip": nullable_string(), "user_agent": nullable_string(),
            "detail": { "type": ["object", "string"], "description": "Particulars; never a secret." },
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let doc = build("https://id.example");
        let text = doc.to_string();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("\"$ref\":\"#/components/") {
            rest = &rest[at + "\"$ref\":\"#/components/".len()..];
            let end = rest.find('"').unwrap_or(0);
            let (kind, name) = rest[..end].split_once('/').unwrap_or(("", ""));
            assert!(doc["components"][kind].get(name).is_some(), "unresolved #/components/{kind}/{name}");
        }
    }

    #[test]
    fn path_parameters_are_found() {
        assert_eq!(path_params("/api/v1/users/{id}/grants/{client_id}"), vec!["id", "client_id"]);
        assert!(path_params("/api/v1/users").is_empty());
    }
}
