//! Organizations: their names (one namespace with usernames, since both are `<issuer>/<name>`)
//! and the roles members hold in them.

use std::fmt;

use super::Username;

/// An organization's name: the same rules and reserved list as [`Username`], because user and
/// organization profiles share the `/<name>` path. Uniqueness is case-insensitive across both.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match Username::parse(raw) {
            Ok(name) => Ok(Self(name.as_str().to_owned())),
            Err(message) => Err(match message {
                "a username is 2 to 42 characters long" => "an organization name is 2 to 42 characters long",
                "a username may only contain letters, digits, '-', '_' and '.'" => {
                    "an organization name may only contain letters, digits, '-', '_' and '.'"
                }
                "a username must start with a letter or a digit" => {
                    "an organization name must start with a letter or a digit"
                }
                "this username is reserved" => "this name is reserved",
                other => other,
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which uniqueness is checked (shared with usernames).
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Debug for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OrgName").field(&self.0).finish()
    }
}

impl fmt::Display for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A member's role, as Hugging Face names them (`roleInOrg`). Only `admin` manages members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    Admin,
    Write,
    Contributor,
    Read,
}

impl OrgRole {
    pub const ALL: [OrgRole; 4] = [Self::Admin, Self::Write, Self::Contributor, Self::Read];

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "admin" => Ok(Self::Admin),
            "write" => Ok(Self::Write),
            "contributor" => Ok(Self::Contributor),
            "read" => Ok(Self::Read),
            _ => Err("a role is admin, write, contributor or read"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Write => "write",
            Self::Contributor => "contributor",
            Self::Read => "read",
        }
    }
}

impl fmt::Display for OrgRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_names_follow_the_username_rules_with_their_own_wording() {
        assert_eq!(OrgName::parse("Acme-Labs").unwrap().canonical(), "acme-labs");
        assert_eq!(OrgName::parse("settings").unwrap_err(), "this name is reserved");
        assert_eq!(OrgName::parse("a").unwrap_err(), "an organization name is 2 to 42 characters long");
        assert_eq!(
            OrgName::parse(".well-known").unwrap_err(),
            "an organization name must start with a letter or a digit"
        );
        assert!(OrgName::parse("no spaces").is_err());
    }

    #[test]
    fn roles_round_trip() {
        for role in OrgRole::ALL {
            assert_eq!(OrgRole::parse(role.as_str()), Ok(role));
        }
        assert!(OrgRole::parse("owner").is_err());
    }
}
