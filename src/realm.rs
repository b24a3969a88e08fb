//! [`Realm`]: the `realm` of `WWW-Authenticate` challenges, validated once.
//!
//! The layer, [`RequireScopeLayer`](crate::RequireScopeLayer) and the admin API all answer
//! with a challenge naming a realm (RFC 6750 §3). A [`Realm`] is checked when it is made, so
//! every challenge built from it is a valid header value, and it clones as a reference count.
//!
//! ```
//! use keygate::Realm;
//!
//! let realm: Realm = "acme".parse().unwrap();
//! assert_eq!(realm.as_str(), "acme");
//! assert_eq!(Realm::default().as_str(), "api");
//! assert!(Realm::new("say \"hi\"").is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The `realm` of `WWW-Authenticate` challenges: printable ASCII without `"` or `\`, so it
/// can stand between the quotes of a challenge as it is. The default is `api`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Realm(Arc<str>);

impl Realm {
    /// `realm`, if it is printable ASCII without `"` or `\`.
    pub fn new(realm: &str) -> Result<Self, InvalidRealm> {
        let ok = realm
            .bytes()
            .all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\');
        if !ok {
            return Err(InvalidRealm(realm.chars().take(80).collect()));
        }
        Ok(Self(Arc::from(realm)))
    }

    /// The realm as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether two realms are the same value; a pointer comparison first, since clones share
    /// their text.
    pub(crate) fn same(&self, other: &Realm) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Default for Realm {
    fn default() -> Self {
        Self(Arc::from("api"))
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl FromStr for Realm {
    type Err = InvalidRealm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for Realm {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a realm was refused: it is not printable ASCII, or it holds `"` or `\`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid realm {0:?}: use printable ASCII without '\"' or '\\'")]
pub struct InvalidRealm(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_realm_is_api() {
        assert_eq!(Realm::default().as_str(), "api");
        assert_eq!(Realm::default().to_string(), "api");
    }

    #[test]
    fn printable_ascii_is_accepted() {
        let realm = Realm::new("Acme API v2 (prod)").unwrap();
        assert_eq!(realm.as_str(), "Acme API v2 (prod)");
        assert_eq!("acme".parse::<Realm>().unwrap().as_str(), "acme");
    }

    #[test]
    fn quotes_backslashes_controls_and_non_ascii_are_refused() {
        for bad in ["a\"b", "a\\b", "a\nb", "a\u{7f}", "réalm", "a\rb"] {
            assert!(Realm::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_refused_realm_is_quoted_and_cut_in_the_error() {
        let long = "\"".repeat(200);
        let error = Realm::new(&long).unwrap_err();
        assert_eq!(error.0.chars().count(), 80);
        assert!(error.to_string().starts_with("invalid realm"));
    }

    #[test]
    fn clones_are_the_same_realm() {
        let realm = Realm::new("acme").unwrap();
        assert!(realm.same(&realm.clone()));
        assert!(realm.same(&Realm::new("acme").unwrap()));
        assert!(!realm.same(&Realm::default()));
    }
}
