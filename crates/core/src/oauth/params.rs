//! Request parameters as received, before any meaning is given to them.

use crate::error::OAuthError;

/// Parameters in arrival order. RFC 6749 §3.1 and §3.2: a parameter sent more than once is an
/// invalid request; parameters Doorway does not know are ignored.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The single value of `name`; empty values count as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!("{name} was sent more than once")));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }

    /// The first duplicated parameter among `names`, if any.
    pub fn first_duplicate(&self, names: &[&str]) -> Option<OAuthError> {
        names.iter().find_map(|name| self.get(name).err())
    }
}
