//! The app form of the developer console: the fields as typed (to show them again), and their
//! validation into the store's types, with one message per field that is wrong. URLs follow the
//! redirect URI rules of `doorway_core` (https except on loopback, no fragment, no user info, no
//! wildcard), and are never fetched.

use std::collections::BTreeMap;

use doorway_core::jose::SigningAlg;
use doorway_core::model::{Client, ClientKind};
use doorway_core::oauth::access_token::AccessTokenFormat;
use doorway_core::oauth::grant::{GrantType, GrantTypes};
use doorway_core::types::{RedirectPolicy, RedirectUri, RedirectUriError, ScopeSet};
use doorway_store::AppProfile;
use serde::Serialize;

use crate::egress::{self, Targets};
use crate::state::ScopeRegistry;

/// The most redirect (or post-logout) URIs one app may register.
const MAX_URIS: usize = 20;
/// Hugging Face's bounds for hosted apps' token lifetime: up to 30 days.
pub const MAX_TOKEN_MINUTES: i64 = 43_200;

/// The console's apps sign people in; the admin API drops this message for an app without the
/// authorization_code grant.
pub const NO_REDIRECT_URI: &str = "Give at least one redirect URI (one per line).";

/// Messages per field name; a field may have several (one per bad redirect URI).
pub type Errors = BTreeMap<&'static str, Vec<String>>;

pub fn push(errors: &mut Errors, field: &'static str, message: impl Into<String>) {
    errors.entry(field).or_default().push(message.into());
}

/// The form's fields as the person typed them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fields {
    pub name: String,
    pub description: String,
    pub homepage_url: String,
    pub logo_uri: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: String,
    pub scopes: Vec<String>,
    pub kind: String,
    pub redirect_policy: String,
    pub refresh_tokens: bool,
    pub require_pkce: bool,
    pub id_token_alg: String,
    pub first_party: bool,
    pub token_minutes: String,
    pub authorized_org: String,
    /// `opaque` or `jwt`; empty keeps the app's (a new app's: opaque).
    pub access_token_format: String,
}

impl Fields {
    /// A new app's defaults.
    pub fn blank() -> Self {
        Fields {
            scopes: vec!["openid".into(), "profile".into()],
            kind: "confidential".into(),
            redirect_policy: "exact".into(),
            refresh_tokens: true,
            id_token_alg: "RS256".into(),
            access_token_format: AccessTokenFormat::Opaque.as_str().into(),
            ..Fields::default()
        }
    }

    /// A submitted form. Scopes arrive as checkboxes named `scope:<name>`: a form field may
    /// appear only once (see `PageForm`).
    pub fn from_form(form: &BTreeMap<String, String>) -> Self {
        let text = |name: &str| form.get(name).cloned().unwrap_or_default();
        let checked = |name: &str| form.get(name).is_some_and(|v| !v.is_empty());
        Fields {
            name: text("name"),
            description: text("description"),
            homepage_url: text("homepage_url"),
            logo_uri: text("logo_uri"),
            policy_uri: text("policy_uri"),
            tos_uri: text("tos_uri"),
            redirect_uris: text("redirect_uris"),
            post_logout_redirect_uris: text("post_logout_redirect_uris"),
            backchannel_logout_uri: text("backchannel_logout_uri"),
            scopes: form.keys().filter_map(|k| k.strip_prefix("scope:")).map(str::to_owned).collect(),
            kind: text("kind"),
            redirect_policy: text("redirect_policy"),
            refresh_tokens: checked("refresh_tokens"),
            require_pkce: checked("require_pkce"),
            id_token_alg: text("id_token_alg"),
            first_party: checked("first_party"),
            token_minutes: text("token_minutes"),
            authorized_org: text("authorized_org"),
            access_token_format: text("access_token_format"),
        }
    }

    /// An app's current settings, to edit.
    pub fn from_client(c: &Client) -> Self {
        let lines = |uris: &[RedirectUri]| uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>().join("\n");
        Fields {
            name: c.name.clone(),
            description: c.description.clone().unwrap_or_default(),
            homepage_url: c.homepage_url.clone().unwrap_or_default(),
            logo_uri: c.logo_uri.clone().unwrap_or_default(),
            policy_uri: c.policy_uri.clone().unwrap_or_default(),
            tos_uri: c.tos_uri.clone().unwrap_or_default(),
            redirect_uris: lines(&c.redirect_uris),
            post_logout_redirect_uris: lines(&c.post_logout_redirect_uris),
            backchannel_logout_uri: c.backchannel_logout_uri.clone().unwrap_or_default(),
            scopes: c.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            kind: kind_str(c.kind).into(),
            redirect_policy: c.redirect_policy.as_str().into(),
            refresh_tokens: c.grant_types.allows(GrantType::RefreshToken),
            require_pkce: c.require_pkce,
            id_token_alg: c.id_token_alg.clone(),
            first_party: c.first_party,
            token_minutes: c.access_token_ttl.map(|s| (s / 60).to_string()).unwrap_or_default(),
            authorized_org: c.authorized_org.clone().unwrap_or_default(),
            access_token_format: c.access_token_format.as_str().into(),
        }
    }
}

pub fn kind_str(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Confidential => "confidential",
        ClientKind::Public => "public",
    }
}

/// A form that passed validation.
#[derive(Debug, Clone)]
pub struct Valid {
    pub name: String,
    pub kind: ClientKind,
    pub homepage_url: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    pub redirect_policy: RedirectPolicy,
    pub scopes: ScopeSet,
    pub require_pkce: bool,
    pub id_token_alg: String,
    pub grant_types: GrantTypes,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<String>,
    pub profile: AppProfile,
}

/// Who is submitting: only an operator may mark an app first-party.
pub struct Submitter<'a> {
    pub is_admin: bool,
    /// What the back-channel logout URI may point at: a developer's app, only public hosts.
    pub targets: Targets,
    /// The app being edited (its kind cannot change; its first-party mark stays unless an
    /// operator changes it).
    pub existing: Option<&'a Client>,
}

/// Checks every field and reports every problem at once.
pub fn validate(fields: &Fields, registry: &ScopeRegistry, who: &Submitter<'_>) -> Result<Valid, Errors> {
    let (valid, errors) = check(fields, registry, who);
    if errors.is_empty() { Ok(valid) } else { Err(errors) }
}

/// Every field checked: what passed (a field that failed holds a default), and the messages.
/// The admin API's PATCH keeps only the messages of the fields it was sent.
pub fn check(fields: &Fields, registry: &ScopeRegistry, who: &Submitter<'_>) -> (Valid, Errors) {
    let mut errors = Errors::new();
    let name = app_name(&fields.name, &mut errors);
    let description = optional_text(&fields.description, 1000, "description", "The description", &mut errors);
    let homepage_url = optional_url(&fields.homepage_url, "homepage_url", "The homepage URL", &mut errors);
    let logo_uri = optional_url(&fields.logo_uri, "logo_uri", "The logo URL", &mut errors);
    if let Some(why) = logo_uri.as_deref().and_then(|u| logo_rule(u).err()) {
        push(&mut errors, "logo_uri", format!("The logo URL {why}."));
    }
    let policy_uri = optional_url(&fields.policy_uri, "policy_uri", "The privacy policy URL", &mut errors);
    let tos_uri = optional_url(&fields.tos_uri, "tos_uri", "The terms of service URL", &mut errors);
    let redirect_uris = uri_lines(&fields.redirect_uris, "redirect_uris", "Redirect URI", &mut errors);
    if redirect_uris.is_empty() && !errors.contains_key("redirect_uris") {
        push(&mut errors, "redirect_uris", NO_REDIRECT_URI);
    }
    let post_logout_redirect_uris = uri_lines(
        &fields.post_logout_redirect_uris,
        "post_logout_redirect_uris",
        "Post-logout redirect URI",
        &mut errors,
    );
    let backchannel_logout_uri = optional_url(
        &fields.backchannel_logout_uri,
        "backchannel_logout_uri",
        "The back-channel logout URI",
        &mut errors,
    );
    // SSRF: Doorway POSTs to this address itself; a developer may only name a public host.
    if let (Targets::PublicOnly, Some(uri)) = (who.targets, backchannel_logout_uri.as_deref())
        && let Err(why) = egress::check_public_url(uri)
    {
        push(&mut errors, "backchannel_logout_uri", format!("The back-channel logout URI {why}."));
    }
    let kind = match (who.existing, fields.kind.as_str()) {
        (Some(existing), _) => existing.kind,
        (None, "confidential") => ClientKind::Confidential,
        (None, "public") => ClientKind::Public,
        (None, _) => {
            push(&mut errors, "kind", "Choose confidential or public.");
            ClientKind::Confidential
        }
    };
    let redirect_policy = RedirectPolicy::parse(&fields.redirect_policy).unwrap_or_else(|| {
        push(&mut errors, "redirect_policy", "Choose exact or origin.");
        RedirectPolicy::Exact
    });
    let scopes = scopes(&fields.scopes, registry, &mut errors);
    let id_token_alg = match SigningAlg::parse(&fields.id_token_alg) {
        Ok(alg) => alg.as_str().to_owned(),
        Err(_) => {
            push(&mut errors, "id_token_alg", "Choose RS256, PS256, ES256 or EdDSA.");
            "RS256".to_owned()
        }
    };
    // The option is not offered to developers: what their form says (or leaves out) is
    // ignored, and an operator's mark stays.
    let first_party = match who.existing {
        _ if who.is_admin => fields.first_party,
        Some(existing) => existing.first_party,
        None => false,
    };
    let access_token_ttl = token_minutes(&fields.token_minutes, &mut errors).map(|m| m * 60);
    let access_token_format = match (fields.access_token_format.trim(), who.existing) {
        ("", Some(existing)) => existing.access_token_format,
        ("", None) => AccessTokenFormat::Opaque,
        (raw, _) => AccessTokenFormat::parse(raw).unwrap_or_else(|| {
            push(&mut errors, "access_token_format", "Choose opaque or JWT.");
            AccessTokenFormat::Opaque
        }),
    };
    let authorized_org = org_name(&fields.authorized_org, &mut errors);
    // The console's apps sign people in; other grants an operator gave the app are kept.
    let mut grants: Vec<GrantType> = who
        .existing
        .map(|c| c.grant_types.iter().filter(|g| *g != GrantType::RefreshToken).collect())
        .unwrap_or_default();
    grants.push(GrantType::AuthorizationCode);
    if fields.refresh_tokens {
        grants.push(GrantType::RefreshToken);
    }
    let valid = Valid {
        name,
        kind,
        homepage_url,
        logo_uri,
        redirect_uris,
        redirect_policy,
        scopes,
        require_pkce: fields.require_pkce,
        id_token_alg,
        grant_types: grants.into_iter().collect(),
        post_logout_redirect_uris,
        backchannel_logout_uri,
        profile: AppProfile {
            description,
            policy_uri,
            tos_uri,
            first_party,
            access_token_ttl,
            authorized_org,
            access_token_format,
        },
    };
    (valid, errors)
}

/// A logo is shown on the consent page, so it is fetched by people's browsers: https only.
pub fn logo_rule(uri: &str) -> Result<(), &'static str> {
    if uri.starts_with("https://") { Ok(()) } else { Err("must use https: it is shown on the consent page") }
}

/// The first Unicode format character (general category Cf: bidi overrides and isolates,
/// zero-width characters, the BOM, …) in `text`. They make a name read differently from what
/// it is ("Bank" that sorts or displays as another app), so names and descriptions refuse them.
pub fn format_char(text: &str) -> Option<char> {
    const CF: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    text.chars().find(|c| CF.iter().any(|(lo, hi)| (*lo..=*hi).contains(&u32::from(*c))))
}

fn format_char_message(what: &str, c: char) -> String {
    format!("{what} must not contain invisible formatting characters (U+{:04X}).", u32::from(c))
}

pub fn app_name(raw: &str, errors: &mut Errors) -> String {
    let name = raw.trim();
    if name.is_empty() {
        push(errors, "name", "Give the app a name.");
    } else if name.chars().count() > 100 || name.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        push(errors, "name", "The name is at most 100 characters, on one line.");
    } else if let Some(c) = format_char(name) {
        push(errors, "name", format_char_message("The name", c));
    }
    name.to_owned()
}

fn optional_text(raw: &str, max: usize, field: &'static str, label: &str, errors: &mut Errors) -> Option<String> {
    let text = raw.trim();
    if text.chars().count() > max {
        push(errors, field, format!("{label} is at most {max} characters."));
    } else if let Some(c) = format_char(text) {
        push(errors, field, format_char_message(label, c));
    }
    Some(text.replace("\r\n", "\n")).filter(|t| !t.is_empty())
}

/// Why a URL was refused, in words for the field's label.
fn uri_message(err: RedirectUriError) -> &'static str {
    match err {
        RedirectUriError::NotAbsolute => "must be an absolute https:// URL",
        RedirectUriError::TooLong => "is too long (2000 characters at most)",
        RedirectUriError::BadCharacters => "must not contain spaces, control characters or backslashes",
        RedirectUriError::Scheme => "must use https (http is allowed only for 127.0.0.1, [::1] and localhost)",
        RedirectUriError::Fragment => "must not contain a fragment (#…)",
        RedirectUriError::UserInfo => "must not contain a user name or password",
        RedirectUriError::Wildcard => "must not contain wildcards (*)",
        RedirectUriError::DotSegment => "must not contain '.' or '..' path segments",
    }
}

/// One URL: https (http on loopback only), no fragment, no wildcard, never a script scheme.
pub fn parse_url(raw: &str) -> Result<RedirectUri, String> {
    let raw = raw.trim();
    let squeezed: String = raw.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
    let lower = squeezed.to_ascii_lowercase();
    if let Some(scheme) = ["javascript:", "data:", "vbscript:"].into_iter().find(|s| lower.starts_with(s)) {
        return Err(format!("must not be a {scheme} URL"));
    }
    if raw.contains('*') {
        return Err(uri_message(RedirectUriError::Wildcard).to_owned());
    }
    RedirectUri::parse(raw).map_err(|e| uri_message(e).to_owned())
}

pub fn optional_url(raw: &str, field: &'static str, label: &str, errors: &mut Errors) -> Option<String> {
    if raw.trim().is_empty() {
        return None;
    }
    match parse_url(raw) {
        Ok(uri) => Some(uri.as_str().to_owned()),
        Err(why) => {
            push(errors, field, format!("{label} {why}."));
            None
        }
    }
}

fn uri_lines(raw: &str, field: &'static str, label: &str, errors: &mut Errors) -> Vec<RedirectUri> {
    let lines: Vec<&str> = raw.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.len() > MAX_URIS {
        push(errors, field, format!("At most {MAX_URIS} URIs."));
        return Vec::new();
    }
    let mut uris = Vec::new();
    for line in lines {
        match parse_url(line) {
            Ok(uri) if !uris.contains(&uri) => uris.push(uri),
            Ok(_) => {}
            Err(why) => push(errors, field, format!("{label} {line} {why}.")),
        }
    }
    uris
}

pub fn scopes(checked: &[String], registry: &ScopeRegistry, errors: &mut Errors) -> ScopeSet {
    let parsed = ScopeSet::parse(&checked.join(" ")).unwrap_or_default();
    if let Some(unknown) = parsed.missing_from(registry.known()).next() {
        push(errors, "scopes", format!("Unknown scope '{unknown}'."));
    } else if parsed.is_empty() {
        push(errors, "scopes", "Choose at least one scope.");
    }
    parsed
}

/// Minutes of access-token lifetime, 1 to 30 days' worth; empty = the server's default.
pub fn token_minutes(raw: &str, errors: &mut Errors) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i64>() {
        Ok(m) if (1..=MAX_TOKEN_MINUTES).contains(&m) => Some(m),
        _ => {
            push(
                errors,
                "token_minutes",
                format!("The token lifetime is a number of minutes from 1 to {MAX_TOKEN_MINUTES}."),
            );
            None
        }
    }
}

/// An organization name: letters, digits, `-`, `_`, `.`; up to 96 characters.
pub fn org_name(raw: &str, errors: &mut Errors) -> Option<String> {
    let org = raw.trim();
    if org.is_empty() {
        return None;
    }
    if org.len() > 96 || !org.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        push(errors, "authorized_org", "An organization name has letters, digits, '-', '_' and '.' only.");
        return None;
    }
    Some(org.to_owned())
}
