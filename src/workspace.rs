//! [`Workspace`]: the customer a key belongs to.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

/// Longest workspace id.
pub const MAX_WORKSPACE_LEN: usize = 64;

/// The id of the workspace a key belongs to: the customer (team, organisation) whose key it
/// is. 1 to 64 of `a-z`, `0-9`, `-` and `_`. A single-tenant service puts every key in
/// [`Workspace::default()`], named `default`.
///
/// Every key belongs to exactly one workspace, fixed when it is created. The management side
/// ([`KeyManager`](crate::KeyManager)) acts within one workspace at a time: a key of another
/// workspace is [`StoreError::NotFound`](crate::StoreError::NotFound), exactly as an id no
/// key has. Handlers read the calling key's workspace with
/// [`AuthenticatedKey::workspace`](crate::AuthenticatedKey::workspace) and filter their own
/// data by it.
///
/// ```
/// use keygate::{InvalidWorkspace, Workspace};
///
/// let acme: Workspace = "acme".parse().unwrap();
/// assert_eq!(acme.as_str(), "acme");
/// assert_eq!(Workspace::default().as_str(), "default");
/// let refused: Result<Workspace, InvalidWorkspace> = "Acme Corp".parse();
/// assert!(refused.is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workspace(Arc<str>);

/// Why a string is not a workspace id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid workspace {0:?}: use 1 to 64 lowercase letters, digits, dashes and underscores, such as acme or default"
)]
pub struct InvalidWorkspace(String);

static DEFAULT: LazyLock<Workspace> = LazyLock::new(|| Workspace(Arc::from("default")));

impl Workspace {
    /// Whether `other` is the same id: a pointer comparison first (clones of one id share
    /// it), then the text.
    pub(crate) fn same(&self, other: &Workspace) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }

    /// Validates a workspace id.
    pub fn new(id: &str) -> Result<Self, InvalidWorkspace> {
        let b = id.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= MAX_WORKSPACE_LEN
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_');
        if !ok {
            return Err(InvalidWorkspace(id.chars().take(80).collect()));
        }
        if id == DEFAULT.as_str() {
            return Ok(DEFAULT.clone());
        }
        Ok(Self(id.into()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the `default` workspace.
    pub fn is_default(&self) -> bool {
        *self.0 == *DEFAULT.0
    }
}

/// The `default` workspace: where a single-tenant service keeps every key, and where keys made
/// before workspaces existed live.
impl Default for Workspace {
    fn default() -> Self {
        DEFAULT.clone()
    }
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Workspace {
    type Err = InvalidWorkspace;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_the_allowed_characters_are_valid() {
        let longest = "a".repeat(MAX_WORKSPACE_LEN);
        for id in ["default", "acme", "team_42", "-", "_x-", longest.as_str()] {
            assert_eq!(Workspace::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn ids_outside_the_rules_are_refused() {
        let long = "a".repeat(MAX_WORKSPACE_LEN + 1);
        for id in [
            "",
            "Acme",
            "acme corp",
            "acme.io",
            "a/b",
            "ключ",
            long.as_str(),
        ] {
            assert!(Workspace::new(id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn the_default_workspace_is_named_default() {
        assert!(Workspace::default().is_default());
        assert!(Workspace::new("default").unwrap().is_default());
        assert!(!Workspace::new("acme").unwrap().is_default());
    }

    #[test]
    fn a_refused_id_is_cut_in_the_error() {
        let error = Workspace::new(&"X".repeat(10_000)).unwrap_err();
        assert!(error.to_string().len() < 300, "{error}");
    }
}
