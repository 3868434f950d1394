//! Properties of the parsers of untrusted input, checked on generated cases (proptest).
//!
//! 1. The exact redirect matcher accepts exactly when the presented URI equals the registered
//!    one byte for byte, except for the port of a loopback registration (RFC 9700 §2.1,
//!    RFC 8252 §7.3): checked against an independent model on equal and near-miss pairs.
//! 2. Every parse of user input succeeds or returns a typed error — never panics — on
//!    arbitrary strings, NUL bytes, lossily decoded invalid UTF-8 and huge lengths, and what
//!    it accepts satisfies the type's documented rule.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64, Encoding};
use doorway_core::model::{AuthorizationCode, Client, ClientKind};
use doorway_core::oauth::authorize::{self, SessionState};
use doorway_core::oauth::grant::{GrantType, GrantTypes};
use doorway_core::oauth::params::Params;
use doorway_core::oauth::{device, refresh, token};
use doorway_core::oidc::logout::PostLogoutRedirect;
use doorway_core::secrets::hash_secret;
use doorway_core::types::{
    CodeChallenge, CodeVerifier, Email, OrgName, OrgRole, Password, RedirectPolicy, RedirectUri, Scope, ScopeSet,
    Username,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// The redirect matcher against a model.
// ---------------------------------------------------------------------------------------------

const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// The model of RFC 8252 §7.3 as Doorway implements it: `http://` + a loopback host written
/// exactly as registered (lower case), an optional port of 1–5 digits, then nothing, a path
/// or a query. Returns (host, everything after the port).
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let host = LOOPBACK_HOSTS.into_iter().find(|h| rest.starts_with(h))?;
    let mut after = &rest[host.len()..];
    if let Some(port) = after.strip_prefix(':') {
        let digits = port.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=5).contains(&digits) {
            return None;
        }
        after = &port[digits..];
    }
    (after.is_empty() || after.starts_with('/') || after.starts_with('?')).then_some((host, after))
}

fn model_accepts(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(presented)) {
        (Some(r), Some(p)) => r == p,
        _ => false,
    }
}

fn exact_accepts(registered: &RedirectUri, presented: &str) -> bool {
    RedirectPolicy::Exact.verify(std::slice::from_ref(registered), Some(presented)).is_ok()
}

/// Registrable redirect URIs: https anywhere, http on loopback, with or without port, path
/// and query.
fn registered_uri() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        Just("https://app.example".to_owned()),
        Just("https://sub.app.example".to_owned()),
        Just("https://127.0.0.1".to_owned()),
        Just("http://127.0.0.1".to_owned()),
        Just("http://[::1]".to_owned()),
        Just("http://localhost".to_owned()),
    ];
    let port = prop_oneof![Just(String::new()), (1u32..65536).prop_map(|p| format!(":{p}"))];
    let path = prop::collection::vec("[a-z0-9_~-]{1,8}", 0..4)
        .prop_map(|segments| segments.iter().map(|s| format!("/{s}")).collect::<String>());
    let slash = prop_oneof![Just(""), Just("/")];
    let query = prop_oneof![Just(String::new()), "[a-z]{1,5}=[a-z0-9]{0,5}".prop_map(|q| format!("?{q}"))];
    (host, port, path, slash, query).prop_map(|(h, p, path, s, q)| format!("{h}{p}{path}{s}{q}"))
}

/// Ways a presented URI can differ from a registration while looking almost the same.
#[derive(Debug, Clone)]
enum NearMiss {
    Same,
    UpperCase(usize),
    TrailingSlash,
    DropLastByte,
    ExtraQuery,
    Fragment,
    PercentEncode(usize),
    UserInfo,
    Port(u32),
    DropPort,
    Scheme,
    HostCase,
}

fn near_miss() -> impl Strategy<Value = NearMiss> {
    prop_oneof![
        Just(NearMiss::Same),
        any::<usize>().prop_map(NearMiss::UpperCase),
        Just(NearMiss::TrailingSlash),
        Just(NearMiss::DropLastByte),
        Just(NearMiss::ExtraQuery),
        Just(NearMiss::Fragment),
        any::<usize>().prop_map(NearMiss::PercentEncode),
        Just(NearMiss::UserInfo),
        (0u32..100_000).prop_map(NearMiss::Port),
        Just(NearMiss::DropPort),
        Just(NearMiss::Scheme),
        Just(NearMiss::HostCase),
    ]
}

/// The byte offset just after `scheme://host`.
fn authority_end(uri: &str) -> usize {
    let start = uri.find("://").map_or(0, |i| i + 3);
    uri[start..].find([':', '/', '?']).map_or(uri.len(), |i| start + i)
}

fn apply(uri: &str, change: &NearMiss) -> String {
    let letters: Vec<usize> = uri.char_indices().filter(|(_, c)| c.is_ascii_lowercase()).map(|(i, _)| i).collect();
    match change {
        NearMiss::Same => uri.to_owned(),
        NearMiss::UpperCase(n) if !letters.is_empty() => {
            let i = letters[n % letters.len()];
            format!("{}{}{}", &uri[..i], uri[i..=i].to_ascii_uppercase(), &uri[i + 1..])
        }
        NearMiss::UpperCase(_) => uri.to_owned(),
        NearMiss::TrailingSlash => uri.strip_suffix('/').map_or_else(|| format!("{uri}/"), str::to_owned),
        NearMiss::DropLastByte => uri[..uri.len() - 1].to_owned(),
        NearMiss::ExtraQuery => {
            if uri.contains('?') {
                format!("{uri}&extra=1")
            } else {
                format!("{uri}?extra=1")
            }
        }
        NearMiss::Fragment => format!("{uri}#frag"),
        NearMiss::PercentEncode(n) if !letters.is_empty() => {
            let i = letters[n % letters.len()];
            format!("{}%{:02X}{}", &uri[..i], uri.as_bytes()[i], &uri[i + 1..])
        }
        NearMiss::PercentEncode(_) => uri.to_owned(),
        NearMiss::UserInfo => uri.replacen("://", "://user@", 1),
        NearMiss::Port(port) => {
            let end = authority_end(uri);
            let rest = &uri[end..];
            let rest = match rest.strip_prefix(':') {
                Some(p) => &p[p.bytes().take_while(u8::is_ascii_digit).count()..],
                None => rest,
            };
            format!("{}:{port}{rest}", &uri[..end])
        }
        NearMiss::DropPort => {
            let end = authority_end(uri);
            match uri[end..].strip_prefix(':') {
                Some(p) => format!("{}{}", &uri[..end], &p[p.bytes().take_while(u8::is_ascii_digit).count()..]),
                None => uri.to_owned(),
            }
        }
        NearMiss::Scheme => match uri.strip_prefix("https://") {
            Some(rest) => format!("http://{rest}"),
            None => uri.replacen("http://", "https://", 1),
        },
        NearMiss::HostCase => {
            let end = authority_end(uri);
            format!("{}{}", uri[..end].to_ascii_uppercase(), &uri[end..])
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn exact_redirect_matching_is_byte_equality_except_the_loopback_port(
        registered in registered_uri(),
        change in near_miss(),
    ) {
        let uri = RedirectUri::parse(&registered).unwrap();
        let presented = apply(&registered, &change);
        prop_assert_eq!(
            exact_accepts(&uri, &presented),
            model_accepts(&registered, &presented),
            "registered {:?}, presented {:?} ({:?})", registered, presented, change
        );
    }

    #[test]
    fn a_registration_always_matches_itself_and_nothing_but_its_loopback_variants(
        registered in registered_uri(),
        other in registered_uri(),
    ) {
        let uri = RedirectUri::parse(&registered).unwrap();
        prop_assert!(exact_accepts(&uri, &registered));
        prop_assert_eq!(exact_accepts(&uri, &other), model_accepts(&registered, &other));
    }

    #[test]
    fn post_logout_redirects_match_byte_for_byte_only(registered in registered_uri(), change in near_miss()) {
        let uri = RedirectUri::parse(&registered).unwrap();
        let presented = apply(&registered, &change);
        let verified = PostLogoutRedirect::verify(std::slice::from_ref(&uri), &presented);
        prop_assert_eq!(verified.is_some(), presented == registered);
    }

    #[test]
    fn the_origin_policy_never_verifies_an_unregistrable_uri(registered in registered_uri(), presented in ".*") {
        let uri = RedirectUri::parse(&registered).unwrap();
        if let Ok(verified) = RedirectPolicy::Origin.verify(std::slice::from_ref(&uri), Some(&presented)) {
            prop_assert!(RedirectUri::parse(verified.as_str()).is_ok());
            prop_assert_eq!(verified.as_str(), presented.as_str());
        }
    }
}

#[test]
fn loopback_near_misses_are_judged_as_rfc_8252_says() {
    let uri = RedirectUri::parse("http://127.0.0.1:8080/cb").unwrap();
    for accepted in ["http://127.0.0.1/cb", "http://127.0.0.1:1/cb", "http://127.0.0.1:65535/cb"] {
        assert!(exact_accepts(&uri, accepted), "{accepted}");
    }
    for refused in [
        "http://127.0.0.1:8080/cb/",
        "http://127.0.0.1:8080/CB",
        "http://127.0.0.1:/cb",
        "http://127.0.0.1:123456/cb",
        "http://127.0.0.1:8080/cb?x=1",
        "http://127.0.0.1:8080/cb#f",
        "http://localhost:8080/cb",
        "https://127.0.0.1:8080/cb",
        "http://user@127.0.0.1:8080/cb",
        "http://127.0.0.1:8080/%63b",
    ] {
        assert!(!exact_accepts(&uri, refused), "{refused}");
    }
}

// ---------------------------------------------------------------------------------------------
// Every parser of user input: a result, never a panic.
// ---------------------------------------------------------------------------------------------

/// Hostile strings: arbitrary Unicode, NUL and control bytes, invalid UTF-8 decoded lossily
/// (U+FFFD where a surrogate or stray byte was), URL-ish fragments, and huge lengths.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        2 => "[\\x00-\\x1f a-zA-Z0-9:/?#@%.~+=&\\[\\]-]{0,64}",
        1 => (".{0,8}", 1usize..200_000).prop_map(|(s, n)| s.repeat(n.min(200_000 / s.len().max(1)).max(1))),
        1 => (1usize..100_000).prop_map(|n| format!("https://app.example/{}", "a".repeat(n))),
        1 => (0usize..100).prop_map(|n| format!("x{}y", "\0".repeat(n))),
    ]
}

/// An app the request parsers are checked against: public (PKCE required) or confidential.
fn client(public: bool) -> Client {
    Client {
        client_id: "app".into(),
        secret_hash: (!public).then(|| hash_secret("s3cret")),
        kind: if public { ClientKind::Public } else { ClientKind::Confidential },
        name: "App".into(),
        homepage_url: None,
        logo_uri: None,
        redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
        redirect_policy: RedirectPolicy::Exact,
        scopes: ScopeSet::parse("openid profile email").unwrap(),
        require_pkce: false,
        id_token_alg: "RS256".into(),
        owner_id: None,
        created_at: 0,
        grant_types: GrantTypes::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        description: None,
        policy_uri: None,
        tos_uri: None,
        first_party: false,
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        access_token_ttl: None,
        access_token_format: Default::default(),
        authorized_org: None,
    }
}

fn form(bytes: &[u8]) -> Params {
    Params::new(url::form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

/// Parameter lists around the names the endpoints read, with hostile values and duplicates.
fn hostile_params() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("client_id"),
        Just("redirect_uri"),
        Just("response_type"),
        Just("response_mode"),
        Just("scope"),
        Just("state"),
        Just("nonce"),
        Just("code_challenge"),
        Just("code_challenge_method"),
        Just("prompt"),
        Just("max_age"),
        Just("login_hint"),
        Just("id_token_hint"),
        Just("request"),
        Just("grant_type"),
        Just("code"),
        Just("code_verifier"),
        Just("client_secret"),
        Just("refresh_token"),
    ];
    let value = prop_oneof![
        3 => hostile(),
        1 => Just("app".to_owned()),
        1 => Just("https://app.example/cb".to_owned()),
        1 => Just("code".to_owned()),
        1 => Just("openid profile".to_owned()),
        1 => Just("S256".to_owned()),
    ];
    prop::collection::vec((name.prop_map(str::to_owned), value), 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn identifier_parsers_return_a_result_and_accept_only_their_rule(raw in hostile()) {
        if let Ok(uri) = RedirectUri::parse(&raw) {
            prop_assert_eq!(uri.as_str(), raw.as_str());
            prop_assert!(raw.len() <= RedirectUri::MAX_LEN && !raw.contains('#') && !raw.contains('\0'));
        }
        if let Ok(scope) = Scope::parse(&raw) {
            prop_assert!(!scope.as_str().is_empty() && !scope.as_str().contains([' ', '"', '\\', '\0']));
        }
        if let Ok(set) = ScopeSet::parse(&raw) {
            prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
        }
        if let Ok(verifier) = CodeVerifier::parse(&raw) {
            prop_assert!((43..=128).contains(&verifier.as_str().len()));
            prop_assert!(CodeChallenge::for_verifier(&verifier).is_satisfied_by(&verifier));
        }
        if CodeChallenge::parse(&raw).is_ok() {
            prop_assert_eq!(raw.len(), 43);
        }
        if let Ok(name) = Username::parse(&raw) {
            prop_assert!((Username::MIN..=Username::MAX).contains(&name.as_str().len()));
            prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        }
        if let Ok(org) = OrgName::parse(&raw) {
            prop_assert!(Username::parse(org.as_str()).is_ok());
        }
        if let Ok(email) = Email::parse(&raw) {
            prop_assert!(email.as_str().len() <= 254 && email.as_str().contains('@'));
            prop_assert!(!email.as_str().contains('\0'));
        }
        if let Ok(password) = Password::parse(raw.clone()) {
            prop_assert!(password.expose().len() <= Password::MAX);
        }
        let _ = OrgRole::parse(&raw);
        let _ = GrantType::parse(&raw);
        let _ = GrantTypes::parse(&raw);
        let _ = RedirectPolicy::parse(&raw);
        let _ = doorway_core::jose::SigningAlg::parse(&raw);
        let _ = doorway_core::oauth::access_token::AccessTokenFormat::parse(&raw);
        if let Some(code) = device::normalize_user_code(&raw) {
            prop_assert_eq!(code.len(), 9);
        }
        let granted = ScopeSet::parse("openid profile").unwrap();
        if let Ok(narrowed) = refresh::narrowed_scope(&granted, Some(&raw)) {
            prop_assert!(narrowed.is_subset(&granted));
        }
        let _ = device::requested_scope(Some(&raw), &client(true), &ScopeSet::parse("openid profile email").unwrap());
    }

    #[test]
    fn authorization_requests_are_validated_or_refused_without_panicking(
        pairs in hostile_params(),
        public in any::<bool>(),
        raw_query in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let known = ScopeSet::parse("openid profile email read-billing").unwrap();
        let client = client(public);
        for params in [Params::new(pairs.clone()), form(&raw_query)] {
            // Steps 1 and 2 fail with a typed error that is shown, never redirected.
            if authorize::client_id(&params).is_err() {
                continue;
            }
            let Ok(redirect) = authorize::verify_redirect(&params, &client) else { continue };
            prop_assert_eq!(redirect.as_str(), "https://app.example/cb");
            match authorize::validate(&params, &client, redirect, &known) {
                Ok(request) => {
                    prop_assert!(request.scopes.is_subset(&client.scopes));
                    prop_assert!(!public || request.code_challenge.is_some());
                    let session = SessionState { auth_time: 0, fresh_login: false, hint_names_other_user: false };
                    let _ = authorize::decide(&request, Some(session), true, 1_000);
                }
                Err(error) => {
                    prop_assert!(error.location("https://id.example").starts_with("https://app.example/cb?"));
                }
            }
        }
    }

    #[test]
    fn token_requests_and_basic_headers_are_parsed_or_refused_without_panicking(
        pairs in hostile_params(),
        header in prop_oneof![
            hostile(),
            hostile().prop_map(|s| format!("Basic {s}")),
            (hostile(), hostile()).prop_map(|(id, secret)| format!("Basic {}", Base64::encode_string(format!("{id}:{secret}").as_bytes()))),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| format!("Basic {}", Base64::encode_string(&b))),
        ],
        with_header in any::<bool>(),
    ) {
        let params = Params::new(pairs);
        let header = with_header.then_some(header.as_str());
        if let Ok(credentials) = token::client_credentials(header, &params) {
            // A NUL never gets through Basic (PostgreSQL cannot compare text holding one).
            if let token::ClientCredentials::Basic { client_id, .. } = &credentials {
                prop_assert!(!client_id.contains('\0'));
            }
            for public in [true, false] {
                let client = client(public);
                if token::authenticate(&credentials, &client).is_ok() {
                    // Only the real secret authenticates a confidential app.
                    prop_assert_eq!(public, matches!(credentials, token::ClientCredentials::None { .. }));
                }
                let code = AuthorizationCode {
                    code_hash: hash_secret("c"),
                    client_id: "app".into(),
                    user_id: "u".into(),
                    redirect_uri: "https://app.example/cb".into(),
                    redirect_uri_sent: true,
                    scope: ScopeSet::parse("openid").unwrap(),
                    nonce: None,
                    code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
                    auth_time: 0,
                    created_at: 0,
                    expires_at: 60,
                    sid: None,
                };
                let _ = token::check_code(&code, &client, &params, 10);
            }
        }
    }
}

#[test]
fn a_nul_in_basic_credentials_is_malformed() {
    let params = Params::new(Vec::new());
    for pair in ["app\0:secret", "app:se\0cret", "app%00:secret", "app:secret%00"] {
        let header = format!("Basic {}", Base64::encode_string(pair.as_bytes()));
        let error = token::client_credentials(Some(&header), &params).unwrap_err();
        assert_eq!(
            (error.code.as_str(), error.description.as_str()),
            ("invalid_client", "malformed Basic credentials")
        );
    }
}

#[test]
fn a_megabyte_of_input_is_refused_not_fatal() {
    let huge = "a".repeat(1 << 20);
    assert!(RedirectUri::parse(&format!("https://app.example/{huge}")).is_err());
    assert!(Scope::parse(&huge).is_err());
    assert!(ScopeSet::parse(&format!("{huge} {huge}")).is_err());
    assert!(CodeVerifier::parse(&huge).is_err());
    assert!(Username::parse(&huge).is_err());
    assert!(Email::parse(&format!("{huge}@example.com")).is_err());
    assert!(Password::parse(huge.clone()).is_err());
    let params = Params::new(vec![("client_id".into(), "app".into()), ("client_secret".into(), huge.clone())]);
    assert!(token::client_credentials(Some(&format!("Basic {huge}")), &params).is_err());
}
