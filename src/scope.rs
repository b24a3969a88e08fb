//! Scopes: what a key may do.
//!
//! | scope | grants |
//! |---|---|
//! | `read:all` | read access to every resource, and so every `read:<resource>` |
//! | `write:all` | create and update access to every non-administrative resource, and so every `write:<resource>` |
//! | `admin` | everything: it implies `read:all` and `write:all`, so scopes need not be stacked |
//! | `read:<resource>` / `write:<resource>` | that access to one resource (`read:users`) |
//!
//! ```
//! use keygate::{Scope, Scopes};
//!
//! let admin: Scopes = "admin".parse().unwrap();
//! assert!(admin.grants(&Scope::WriteAll));
//!
//! let ci: Scopes = "read:all,write:all".parse().unwrap();
//! assert!(ci.grants(&"read:users".parse().unwrap()));
//! assert!(!ci.grants(&Scope::Admin));
//!
//! assert!("delete:all".parse::<Scope>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Longest resource name in a `read:<resource>` / `write:<resource>` scope.
pub const MAX_RESOURCE_LEN: usize = 64;

/// One permission.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `admin`: full access, implying every other scope.
    Admin,
    /// `read:all`: read access to every resource.
    ReadAll,
    /// `write:all`: create and update access to every non-administrative resource.
    WriteAll,
    /// `read:<resource>`: read access to one resource.
    Read(Resource),
    /// `write:<resource>`: create and update access to one resource.
    Write(Resource),
}

/// The resource named in `read:<resource>` / `write:<resource>`: 1 to 64 characters of
/// `a-z0-9`, `-`, `_` and `.`, starting with a letter or digit (`all` is reserved).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource(Arc<str>);

impl Resource {
    /// Validates a resource name.
    pub fn new(name: &str) -> Result<Self, ScopeError> {
        let bytes = name.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= MAX_RESOURCE_LEN
            && name != "all"
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes.iter().all(|&b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if ok {
            Ok(Self(name.into()))
        } else {
            Err(ScopeError::Malformed(shorten(name)))
        }
    }

    /// The resource name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Why a string is not a scope (or a list of scopes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// Well-formed, but not a scope this crate knows.
    #[error(
        "unknown scope {0:?}: use read:all, write:all, admin, read:<resource> or write:<resource>"
    )]
    Unknown(String),
    /// Not of the form `admin`, `read:<resource>` or `write:<resource>`.
    #[error(
        "malformed scope {0:?}: use read:all, write:all, admin, read:<resource> or write:<resource> (resource: a-z, 0-9, '-', '_', '.')"
    )]
    Malformed(String),
    /// An empty list where at least one scope is needed.
    #[error("no scope given: choose at least one of read:all, write:all, admin")]
    Empty,
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Scope {
    /// `read:<resource>`.
    pub fn read(resource: &str) -> Result<Self, ScopeError> {
        Resource::new(resource).map(Scope::Read)
    }

    /// `write:<resource>`.
    pub fn write(resource: &str) -> Result<Self, ScopeError> {
        Resource::new(resource).map(Scope::Write)
    }

    /// Whether holding `self` grants `required`.
    pub fn grants(&self, required: &Scope) -> bool {
        match (self, required) {
            (Scope::Admin, _) => true,
            (Scope::ReadAll, Scope::ReadAll | Scope::Read(_)) => true,
            (Scope::WriteAll, Scope::WriteAll | Scope::Write(_)) => true,
            (Scope::Read(held), Scope::Read(needed)) => held == needed,
            (Scope::Write(held), Scope::Write(needed)) => held == needed,
            _ => false,
        }
    }

    /// The documented string form (`read:all`, `admin`, `write:users`).
    pub fn as_str(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Scope::Admin => "admin".into(),
            Scope::ReadAll => "read:all".into(),
            Scope::WriteAll => "write:all".into(),
            Scope::Read(r) => format!("read:{}", r.as_str()).into(),
            Scope::Write(r) => format!("write:{}", r.as_str()).into(),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => return Ok(Scope::Admin),
            "read:all" => return Ok(Scope::ReadAll),
            "write:all" => return Ok(Scope::WriteAll),
            _ => {}
        }
        match s.split_once(':') {
            Some(("read", resource)) => Scope::read(resource),
            Some(("write", resource)) => Scope::write(resource),
            Some((action, _))
                if !action.is_empty() && action.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Err(ScopeError::Unknown(shorten(s)))
            }
            None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Err(ScopeError::Unknown(shorten(s)))
            }
            _ => Err(ScopeError::Malformed(shorten(s))),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Admin => f.write_str("admin"),
            Scope::ReadAll => f.write_str("read:all"),
            Scope::WriteAll => f.write_str("write:all"),
            Scope::Read(r) => write!(f, "read:{}", r.as_str()),
            Scope::Write(r) => write!(f, "write:{}", r.as_str()),
        }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({self})")
    }
}

/// The set of scopes a key holds. Kept sorted and free of duplicates.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// No scopes at all.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Builds a set, sorting and removing duplicates.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut v: Vec<Scope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        Self(v)
    }

    /// Whether any held scope grants `required` (`admin` grants everything).
    pub fn grants(&self, required: &Scope) -> bool {
        self.0.iter().any(|held| held.grants(required))
    }

    /// Whether the set holds `scope` itself (not merely something that implies it).
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.binary_search(scope).is_ok()
    }

    /// Adds a scope; returns whether it was new.
    pub fn insert(&mut self, scope: Scope) -> bool {
        match self.0.binary_search(&scope) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, scope);
                true
            }
        }
    }

    /// Removes a scope; returns whether it was there.
    pub fn remove(&mut self, scope: &Scope) -> bool {
        match self.0.binary_search(scope) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// The scopes, sorted (`admin`, `read:all`, `write:all`, then resource scopes).
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Number of scopes held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no scope is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses a list separated by commas and/or whitespace (`"read:all,write:all"`,
    /// `"read:all write:all"`). Every item must be a known scope; an empty list is an error.
    pub fn parse_list(list: &str) -> Result<Self, ScopeError> {
        let mut scopes = Vec::new();
        for item in list.split(|c: char| c == ',' || c.is_whitespace()) {
            if !item.is_empty() {
                scopes.push(item.parse()?);
            }
        }
        if scopes.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(Self::new(scopes))
    }
}

impl FromStr for Scopes {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_list(s)
    }
}

impl fmt::Display for Scopes {
    /// The scopes joined by `,` (`read:all,write:all`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            fmt::Display::fmt(scope, f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scopes({self})")
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self::new(iter)
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scope {
        text.parse().unwrap()
    }

    #[test]
    fn admin_implies_read_all_and_write_all() {
        assert!(Scope::Admin.grants(&Scope::ReadAll));
        assert!(Scope::Admin.grants(&Scope::WriteAll));
        assert!(Scope::Admin.grants(&s("write:users")));
    }

    #[test]
    fn read_all_does_not_grant_write_or_admin() {
        assert!(!Scope::ReadAll.grants(&Scope::WriteAll));
        assert!(!Scope::ReadAll.grants(&Scope::Admin));
        assert!(!Scope::ReadAll.grants(&s("write:users")));
    }

    #[test]
    fn write_all_grants_resource_writes_but_not_admin() {
        assert!(Scope::WriteAll.grants(&s("write:projects")));
        assert!(!Scope::WriteAll.grants(&Scope::Admin));
        assert!(!Scope::WriteAll.grants(&Scope::ReadAll));
    }

    #[test]
    fn resource_scope_grants_only_its_own_resource() {
        assert!(s("read:users").grants(&s("read:users")));
        assert!(!s("read:users").grants(&s("read:projects")));
        assert!(!s("read:users").grants(&Scope::ReadAll));
    }

    #[test]
    fn documented_strings_round_trip() {
        for text in [
            "admin",
            "read:all",
            "write:all",
            "read:users",
            "write:api-keys.v2",
        ] {
            assert_eq!(s(text).to_string(), text);
            assert_eq!(s(text).as_str(), text);
        }
    }

    #[test]
    fn unknown_scope_is_a_clear_error() {
        assert_eq!(
            "delete:all".parse::<Scope>(),
            Err(ScopeError::Unknown("delete:all".into()))
        );
        assert_eq!(
            "superuser".parse::<Scope>(),
            Err(ScopeError::Unknown("superuser".into()))
        );
    }

    #[test]
    fn ill_formed_scope_is_a_clear_error() {
        for bad in [
            "",
            "read:",
            "read:USERS",
            ":all",
            "read all",
            "write:a/b",
            "read:all:x",
            "read:all ",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad:?} was accepted");
        }
        assert!(matches!(
            "read:".parse::<Scope>(),
            Err(ScopeError::Malformed(_))
        ));
    }

    #[test]
    fn list_parsing_accepts_commas_and_spaces_and_rejects_any_bad_item() {
        let scopes = Scopes::parse_list("write:all, read:all").unwrap();
        assert_eq!(scopes.to_string(), "read:all,write:all");
        assert_eq!(Scopes::parse_list("read:all write:all").unwrap(), scopes);
        assert!(Scopes::parse_list("read:all,bogus").is_err());
        assert_eq!(Scopes::parse_list(" , "), Err(ScopeError::Empty));
    }

    #[test]
    fn scopes_are_kept_sorted_without_duplicates() {
        let mut scopes = Scopes::new([Scope::WriteAll, Scope::Admin, Scope::WriteAll]);
        assert_eq!(scopes.to_string(), "admin,write:all");
        assert!(!scopes.insert(Scope::Admin));
        assert!(scopes.insert(Scope::ReadAll));
        assert_eq!(scopes.to_string(), "admin,read:all,write:all");
        assert!(scopes.remove(&Scope::Admin));
        assert!(!scopes.grants(&Scope::Admin));
    }
}
