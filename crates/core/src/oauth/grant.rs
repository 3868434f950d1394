//! Grant types (RFC 6749 §4, RFC 8628 §3.4) and the set an app may use.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] =
        [Self::AuthorizationCode, Self::RefreshToken, Self::ClientCredentials, Self::DeviceCode];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == raw)
    }
}

/// The grant types registered for an app. Default: code and refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GrantTypes(BTreeSet<GrantType>);

impl Default for GrantTypes {
    fn default() -> Self {
        Self([GrantType::AuthorizationCode, GrantType::RefreshToken].into_iter().collect())
    }
}

impl GrantTypes {
    /// Space- or comma-separated names; `device_code` is accepted for the URN.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| match s {
                "device_code" => Ok(GrantType::DeviceCode),
                other => GrantType::parse(other).ok_or_else(|| format!("unknown grant type '{other}'")),
            })
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.0.contains(&grant)
    }

    pub fn iter(&self) -> impl Iterator<Item = GrantType> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<GrantType> for GrantTypes {
    fn from_iter<T: IntoIterator<Item = GrantType>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for GrantTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|g| g.as_str()).collect();
        f.write_str(&names.join(" "))
    }
}

impl TryFrom<String> for GrantTypes {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<GrantTypes> for String {
    fn from(value: GrantTypes) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_types_round_trip_and_accept_the_device_shorthand() {
        let set = GrantTypes::parse("authorization_code,device_code refresh_token").unwrap();
        assert!(set.allows(GrantType::DeviceCode));
        assert!(!set.allows(GrantType::ClientCredentials));
        assert_eq!(GrantTypes::parse(&set.to_string()).unwrap(), set);
        assert!(GrantTypes::parse("implicit").is_err());
    }
}
