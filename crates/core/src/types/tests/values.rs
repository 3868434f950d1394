//! Scopes, PKCE values and account identifiers.

use crate::types::*;

// ---------------------------------------------------------------------------------------------
// Scope and ScopeSet
// ---------------------------------------------------------------------------------------------

const BAD_SCOPE_CHARS: &str = "a scope may not contain spaces, quotes or backslashes";

#[test]
fn scope_accepts_the_rfc_6749_charset() {
    for raw in ["openid", "read-billing", "a", "!", "#$%&'()*+,-./:;<=>?@[]^_`{|}~", "api:read"] {
        assert_eq!(Scope::parse(raw).unwrap().as_str(), raw);
    }
    let longest = "s".repeat(128);
    assert_eq!(Scope::parse(&longest).unwrap().as_str(), longest);
}

#[test]
fn scope_with_quote_backslash_space_or_non_ascii_is_rejected() {
    for raw in ["a\"b", "a\\b", "a b", " ", "a\tb", "a\nb", "\u{7f}", "é", "\0"] {
        assert_eq!(Scope::parse(raw), Err(BAD_SCOPE_CHARS), "{raw:?}");
    }
}

#[test]
fn scope_length_is_bounded() {
    assert_eq!(Scope::parse(""), Err("a scope is 1 to 128 characters long"));
    assert_eq!(Scope::parse(&"s".repeat(129)), Err("a scope is 1 to 128 characters long"));
}

#[test]
fn scope_set_tolerates_repeated_spaces_and_scopes() {
    let set = ScopeSet::parse("  openid  profile openid email ").unwrap();
    assert_eq!(set.to_string(), "email openid profile");
    assert_eq!(set.iter().count(), 3);
    assert!(set.contains("openid"));
    assert!(!set.contains("open"));
}

#[test]
fn scope_set_display_is_canonical() {
    let a = ScopeSet::parse("profile openid email").unwrap();
    let b = ScopeSet::parse("email profile openid").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), "email openid profile");
    assert_eq!(String::from(a), "email openid profile");
    // Case-sensitive (RFC 6749 §3.3), ordered by bytes.
    assert_eq!(ScopeSet::parse("b B a A").unwrap().to_string(), "A B a b");
}

#[test]
fn scope_set_rejects_any_invalid_scope() {
    assert_eq!(ScopeSet::parse("openid \"profile\""), Err(BAD_SCOPE_CHARS));
    assert_eq!(ScopeSet::parse("openid pro\\file"), Err(BAD_SCOPE_CHARS));
    // Only the space separates scopes: a tab is part of a (bad) scope.
    assert_eq!(ScopeSet::parse("openid\tprofile"), Err(BAD_SCOPE_CHARS));
}

#[test]
fn empty_scope_set_is_empty() {
    for raw in ["", " ", "    "] {
        let set = ScopeSet::parse(raw).unwrap();
        assert!(set.is_empty());
        assert_eq!(set.to_string(), "");
    }
}

#[test]
fn scope_set_subset_and_missing_from() {
    let granted = ScopeSet::parse("openid profile email").unwrap();
    let asked = ScopeSet::parse("openid read-billing profile admin").unwrap();
    assert!(!asked.is_subset(&granted));
    assert!(ScopeSet::parse("profile openid").unwrap().is_subset(&granted));
    assert!(ScopeSet::default().is_subset(&granted));
    let missing: Vec<&str> = asked.missing_from(&granted).map(Scope::as_str).collect();
    assert_eq!(missing, ["admin", "read-billing"]);
    assert_eq!(granted.missing_from(&granted).count(), 0);
    assert_eq!(asked.union(&granted).to_string(), "admin email openid profile read-billing");
}

#[test]
fn scope_set_deserializes_only_through_parse() {
    let set: ScopeSet = serde_json::from_str("\"profile openid\"").unwrap();
    assert_eq!(serde_json::to_string(&set).unwrap(), "\"openid profile\"");
    assert!(serde_json::from_str::<ScopeSet>("\"openid a\\\\b\"").is_err());
    assert!(serde_json::from_str::<Scope>("\"a b\"").is_err());
}

// ---------------------------------------------------------------------------------------------
// PKCE
// ---------------------------------------------------------------------------------------------

/// RFC 7636 Appendix B.
const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const BAD_CHALLENGE: &str = "code_challenge must be the 43-character base64url SHA-256 of the verifier";
const BAD_VERIFIER: &str = "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]";

#[test]
fn pkce_matches_rfc_7636_appendix_b() {
    let verifier = CodeVerifier::parse(RFC_VERIFIER).unwrap();
    let challenge = CodeChallenge::parse(RFC_CHALLENGE).unwrap();
    assert!(challenge.is_satisfied_by(&verifier));
    assert_eq!(CodeChallenge::for_verifier(&verifier).as_str(), RFC_CHALLENGE);
}

#[test]
fn pkce_other_verifier_does_not_satisfy_the_challenge() {
    let challenge = CodeChallenge::parse(RFC_CHALLENGE).unwrap();
    let other = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK").unwrap();
    assert!(!challenge.is_satisfied_by(&other));
    // The plain method's "challenge" (the verifier itself) is not a valid S256 challenge.
    assert_eq!(CodeChallenge::parse(RFC_VERIFIER).unwrap().as_str(), RFC_VERIFIER);
    let as_plain = CodeVerifier::parse(RFC_VERIFIER).unwrap();
    assert!(!CodeChallenge::parse(RFC_VERIFIER).unwrap().is_satisfied_by(&as_plain));
}

#[test]
fn code_challenge_must_be_43_base64url_characters() {
    for raw in [
        "",
        &RFC_CHALLENGE[..42],
        &format!("{RFC_CHALLENGE}A"),
        &format!("{RFC_CHALLENGE}="),
        // Standard base64 alphabet, padding, and characters outside any alphabet.
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw.cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw~cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw cM",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cé",
    ] {
        assert_eq!(CodeChallenge::parse(raw), Err(BAD_CHALLENGE), "{raw:?}");
    }
}

#[test]
fn code_challenge_deserializes_only_through_parse() {
    let json = format!("\"{RFC_CHALLENGE}\"");
    let challenge: CodeChallenge = serde_json::from_str(&json).unwrap();
    assert_eq!(challenge.as_str(), RFC_CHALLENGE);
    assert!(serde_json::from_str::<CodeChallenge>("\"plain\"").is_err());
}

#[test]
fn code_verifier_length_is_43_to_128() {
    assert_eq!(CodeVerifier::parse(&"a".repeat(42)), Err(BAD_VERIFIER));
    assert_eq!(CodeVerifier::parse(&"a".repeat(43)).unwrap().as_str(), "a".repeat(43));
    assert_eq!(CodeVerifier::parse(&"a".repeat(128)).unwrap().as_str(), "a".repeat(128));
    assert_eq!(CodeVerifier::parse(&"a".repeat(129)), Err(BAD_VERIFIER));
    assert_eq!(CodeVerifier::parse(""), Err(BAD_VERIFIER));
}

#[test]
fn code_verifier_allows_only_unreserved_characters() {
    let ok = format!("{}-._~AZaz09", "a".repeat(33));
    assert_eq!(CodeVerifier::parse(&ok).unwrap().as_str(), ok);
    for bad in ['+', '/', '=', ' ', '%', '!', '*', 'é', '\n'] {
        let raw = format!("{}{bad}", "a".repeat(42));
        assert_eq!(CodeVerifier::parse(&raw), Err(BAD_VERIFIER), "{raw:?}");
    }
    // 42 characters that are 43 bytes long are still too short.
    assert_eq!(CodeVerifier::parse(&format!("{}é", "a".repeat(41))), Err(BAD_VERIFIER));
}

#[test]
fn code_verifier_debug_is_redacted() {
    let verifier = CodeVerifier::parse(RFC_VERIFIER).unwrap();
    assert_eq!(format!("{verifier:?}"), "CodeVerifier([redacted])");
}

// ---------------------------------------------------------------------------------------------
// Username, Email, Password
// ---------------------------------------------------------------------------------------------

const USERNAME_LENGTH: &str = "a username is 2 to 42 characters long";
const USERNAME_CHARSET: &str = "a username may only contain letters, digits, '-', '_' and '.'";
const USERNAME_START: &str = "a username must start with a letter or a digit";
const USERNAME_RESERVED: &str = "this username is reserved";

#[test]
fn username_length_is_2_to_42() {
    assert_eq!(Username::parse("a").unwrap_err(), USERNAME_LENGTH);
    assert_eq!(Username::parse("").unwrap_err(), USERNAME_LENGTH);
    assert_eq!(Username::parse("ab").unwrap().as_str(), "ab");
    let longest = "a".repeat(42);
    assert_eq!(Username::parse(&longest).unwrap().as_str(), longest);
    assert_eq!(Username::parse(&"a".repeat(43)).unwrap_err(), USERNAME_LENGTH);
}

#[test]
fn username_charset_is_letters_digits_dash_underscore_dot() {
    for ok in ["alice", "Alice-B", "a_b.c", "x1", "9lives", "a--", "a.."] {
        assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
    }
    for bad in
        ["al ice", "alice!", "al/ice", "al@ice", "al%2e", "ali\u{0441}e", "élise", "a\u{200b}b", "al\nice", "al\\ice"]
    {
        assert_eq!(Username::parse(bad).unwrap_err(), USERNAME_CHARSET, "{bad:?}");
    }
}

#[test]
fn username_must_start_with_a_letter_or_digit() {
    // A profile lives at `/<username>`: `..`, `.well-known` or `-x` make odd or dangerous paths.
    for bad in ["..", ".well-known", ".alice", "-alice", "_alice", "._"] {
        assert_eq!(Username::parse(bad).unwrap_err(), USERNAME_START, "{bad}");
    }
}

#[test]
fn reserved_usernames_are_rejected_in_any_case() {
    for reserved in Username::RESERVED {
        assert_eq!(Username::parse(reserved).unwrap_err(), USERNAME_RESERVED, "{reserved}");
        let upper = reserved.to_ascii_uppercase();
        assert_eq!(Username::parse(&upper).unwrap_err(), USERNAME_RESERVED, "{upper}");
    }
    for route in ["login", "Signup", "LOGOUT", "account", "oauth", "static", "avatars", "demo"] {
        assert_eq!(Username::parse(route).unwrap_err(), USERNAME_RESERVED, "{route}");
    }
    // Only the whole name is reserved.
    assert_eq!(Username::parse("admins").unwrap().as_str(), "admins");
    assert_eq!(Username::parse("demo-user").unwrap().as_str(), "demo-user");
}

#[test]
fn username_uniqueness_is_case_insensitive() {
    let a = Username::parse("Alice.B").unwrap();
    let b = Username::parse("aLICE.b").unwrap();
    assert_ne!(a, b);
    assert_eq!(a.as_str(), "Alice.B");
    assert_eq!(a.to_string(), "Alice.B");
    assert_eq!(a.canonical(), "alice.b");
    assert_eq!(a.canonical(), b.canonical());
    assert_eq!(format!("{a:?}"), "Username(\"Alice.B\")");
}

const BAD_EMAIL: &str = "enter an email address such as name@example.com";

#[test]
fn email_accepts_plain_addresses_and_trims() {
    for ok in ["a@example.com", "first.last+tag@sub.example.co", "root@localhost"] {
        assert_eq!(Email::parse(ok).unwrap().as_str(), ok);
    }
    assert_eq!(Email::parse("  a@example.com\n").unwrap().as_str(), "a@example.com");
}

#[test]
fn email_with_bad_shape_is_rejected() {
    for bad in [
        "",
        "   ",
        "example.com",
        "@example.com",
        "a@",
        "a@b@example.com",
        "a@.example.com",
        "a@example.com.",
        "a@example..com",
        "a b@example.com",
        "a@exa mple.com",
        "a@example.com\u{0}",
        "a\r\nBcc: x@example.com@example.com",
    ] {
        assert_eq!(Email::parse(bad).unwrap_err(), BAD_EMAIL, "{bad:?}");
    }
    let long = format!("{}@example.com", "a".repeat(243));
    assert_eq!(long.len(), 255);
    assert_eq!(Email::parse(&long).unwrap_err(), BAD_EMAIL);
    let max = format!("{}@example.com", "a".repeat(242));
    assert_eq!(Email::parse(&max).unwrap().as_str(), max);
}

#[test]
fn password_is_at_least_8_characters() {
    assert_eq!(Password::parse("1234567".into()).unwrap_err(), "a password is at least 8 characters long");
    assert_eq!(Password::parse("12345678".into()).unwrap().expose(), "12345678");
    // Characters, not bytes: seven 2-byte characters are still too short.
    assert_eq!(Password::parse("ééééééé".into()).unwrap_err(), "a password is at least 8 characters long");
    // Spaces are kept as typed.
    assert_eq!(Password::parse(" pass word ".into()).unwrap().expose(), " pass word ");
}

#[test]
fn password_is_at_most_1024_bytes() {
    let max = "a".repeat(Password::MAX);
    assert_eq!(Password::parse(max.clone()).unwrap().expose(), max);
    assert_eq!(Password::parse("a".repeat(1025)).unwrap_err(), "a password is at most 1024 bytes long");
    // 513 two-byte characters: 1026 bytes.
    assert_eq!(Password::parse("é".repeat(513)).unwrap_err(), "a password is at most 1024 bytes long");
}

#[test]
fn password_debug_is_redacted() {
    let password = Password::parse("correct horse battery staple".into()).unwrap();
    let debug = format!("{password:?}");
    assert_eq!(debug, "Password([redacted])");
    assert!(!debug.contains("horse"));
}
