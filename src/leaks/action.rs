//! [`LeakAction`]: what is done to a key reported as leaked.

use std::fmt;

/// What the router does to a live key a report names.
///
/// | action | the key | undone by |
/// |---|---|---|
/// | [`Revoke`](Self::Revoke) (the default) | refused with 401 `revoked_api_key` for good | nothing: issue a new key |
/// | [`Disable`](Self::Disable) | refused with 401 `disabled_api_key`, flagged for review | an admin enabling it (or revoking it) |
///
/// A key already in that state (or revoked, for `Disable`) is left as it is: a replayed report
/// changes nothing, records nothing and notifies no one again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LeakAction {
    /// Revoke the key at once.
    #[default]
    Revoke,
    /// Disable the key until someone reviews the report.
    Disable,
}

impl LeakAction {
    /// `revoke` or `disable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Disable => "disable",
        }
    }
}

impl fmt::Display for LeakAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
