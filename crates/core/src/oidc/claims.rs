//! Which claims a grant releases. The same function feeds the ID token and userinfo, so the
//! two never disagree (Authlib-based clients read only the ID token; others only userinfo).

use serde_json::{Map, Value, json};

use crate::model::User;
use crate::types::{OrgRole, Scope, ScopeSet};

/// The claims Doorway can release, for discovery's `claims_supported`.
pub const SUPPORTED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "sid",
    "name",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "isPro",
    "canPay",
    "orgs",
];

/// One of the user's organizations as the `orgs` claim shows it (hf-compat.md): every org the
/// user belongs to, with `roleInOrg` only for the orgs the user granted to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgClaim {
    pub sub: String,
    /// The display name (or the name).
    pub name: String,
    pub preferred_username: String,
    /// The org's avatar, or its generated default.
    pub picture: String,
    pub is_enterprise: bool,
    /// `Some` only when the user let this app see the org.
    pub role_in_org: Option<OrgRole>,
}

impl OrgClaim {
    fn to_json(&self) -> Value {
        let mut org = Map::new();
        org.insert("sub".into(), json!(self.sub));
        org.insert("name".into(), json!(self.name));
        org.insert("preferred_username".into(), json!(self.preferred_username));
        org.insert("picture".into(), json!(self.picture));
        // Not in hf-compat.md's four base fields, but @huggingface/hub types it as required.
        org.insert("isEnterprise".into(), json!(self.is_enterprise));
        if let Some(role) = self.role_in_org {
            org.insert("roleInOrg".into(), json!(role.as_str()));
        }
        Value::Object(org)
    }
}

/// The user's claims for `scopes`, `sub` always included. `picture_fallback` is the generated
/// avatar served by Doorway, used when the user set none; `orgs` are the user's organizations
/// as this app may see them (only read under `profile`).
pub fn user_claims(
    user: &User,
    scopes: &ScopeSet,
    issuer: &str,
    picture_fallback: &str,
    orgs: &[OrgClaim],
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.sub));
    if scopes.contains(Scope::PROFILE) {
        claims.insert("name".into(), json!(user.display_name()));
        claims.insert("preferred_username".into(), json!(user.username));
        claims.insert("profile".into(), json!(format!("{issuer}/{}", user.username)));
        let picture = user.avatar_url.as_deref().filter(|u| !u.is_empty()).unwrap_or(picture_fallback);
        claims.insert("picture".into(), json!(picture));
        claims.insert("website".into(), json!(user.website.as_deref().unwrap_or("")));
        claims.insert("isPro".into(), json!(user.is_pro));
        claims.insert("orgs".into(), Value::Array(orgs.iter().map(OrgClaim::to_json).collect()));
    }
    if scopes.contains(Scope::EMAIL) {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(user.email_verified));
    }
    if scopes.contains(Scope::READ_BILLING) {
        claims.insert("canPay".into(), json!(user.can_pay));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> User {
        User {
            id: "u1".into(),
            sub: "0123456789abcdef01234567".into(),
            username: "alice".into(),
            email: "alice@example.com".into(),
            email_verified: false,
            name: Some("Alice A".into()),
            avatar_url: None,
            website: None,
            is_admin: false,
            is_pro: true,
            can_pay: false,
            disabled: false,
            created_at: 0,
        }
    }

    #[test]
    fn openid_alone_releases_only_sub() {
        let claims = user_claims(&alice(), &ScopeSet::parse("openid").unwrap(), "https://id.example", "x", &[]);
        assert_eq!(claims.keys().collect::<Vec<_>>(), vec!["sub"]);
    }

    #[test]
    fn profile_releases_hugging_face_claims_with_defaults() {
        let claims = user_claims(
            &alice(),
            &ScopeSet::parse("openid profile").unwrap(),
            "https://id.example",
            "https://id.example/avatars/a.svg",
            &[],
        );
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["name"], "Alice A");
        assert_eq!(claims["profile"], "https://id.example/alice");
        assert_eq!(claims["picture"], "https://id.example/avatars/a.svg");
        assert_eq!(claims["website"], "");
        assert_eq!(claims["isPro"], true);
        assert_eq!(claims["orgs"], json!([]));
        assert!(!claims.contains_key("email"));
        assert!(!claims.contains_key("canPay"));
    }

    #[test]
    fn email_and_billing_scopes_release_their_claims() {
        let claims = user_claims(
            &alice(),
            &ScopeSet::parse("openid email read-billing").unwrap(),
            "https://id.example",
            "x",
            &[],
        );
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], false);
        assert_eq!(claims["canPay"], false);
        assert!(!claims.contains_key("name"));
    }

    #[test]
    fn orgs_carry_the_role_only_where_granted() {
        let org = |sub: &str, role: Option<OrgRole>| OrgClaim {
            sub: sub.into(),
            name: "Acme Labs".into(),
            preferred_username: "acme".into(),
            picture: "https://id.example/avatars/o.svg".into(),
            is_enterprise: false,
            role_in_org: role,
        };
        let orgs = [org("aaaaaaaaaaaaaaaaaaaaaaaa", Some(OrgRole::Write)), org("bbbbbbbbbbbbbbbbbbbbbbbb", None)];
        let claims =
            user_claims(&alice(), &ScopeSet::parse("openid profile").unwrap(), "https://id.example", "x", &orgs);
        assert_eq!(
            claims["orgs"],
            json!([
                { "sub": "aaaaaaaaaaaaaaaaaaaaaaaa", "name": "Acme Labs", "preferred_username": "acme",
                  "picture": "https://id.example/avatars/o.svg", "isEnterprise": false, "roleInOrg": "write" },
                { "sub": "bbbbbbbbbbbbbbbbbbbbbbbb", "name": "Acme Labs", "preferred_username": "acme",
                  "picture": "https://id.example/avatars/o.svg", "isEnterprise": false },
            ])
        );
        let openid = user_claims(&alice(), &ScopeSet::parse("openid").unwrap(), "https://id.example", "x", &orgs);
        assert!(!openid.contains_key("orgs"));
    }
}
