//! Which scope a request needs.
//!
//! - [`MethodPolicy`] (the default): safe methods (`GET`, `HEAD`, `OPTIONS`, `TRACE`) need
//!   `read:all`; every other method (`POST`, `PUT`, `PATCH`, `DELETE`, …) needs `write:all`.
//! - [`RoutePolicy`]: rules by path pattern (and optionally method), first match wins, falling
//!   back to the method default.
//! - Any closure `Fn(&http::request::Parts) -> Option<Scope>`.
//!
//! `None` means the request needs a valid key but no particular scope.
//!
//! ```
//! use http::{Method, Request};
//! use keygate::policy::{RoutePolicy, ScopePolicy};
//! use keygate::Scope;
//!
//! let policy = RoutePolicy::new().route("/v1/admin/**", Scope::Admin);
//! let head = |method: Method, path: &str| {
//!     Request::builder().method(method).uri(path).body(()).unwrap().into_parts().0
//! };
//! assert_eq!(policy.required_scope(&head(Method::GET, "/v1/admin/keys")), Some(Scope::Admin));
//! assert_eq!(policy.required_scope(&head(Method::GET, "/v1/records")), Some(Scope::ReadAll));
//! assert_eq!(policy.required_scope(&head(Method::POST, "/v1/records")), Some(Scope::WriteAll));
//! ```

use std::fmt;

use http::Method;
use http::request::Parts;

use crate::scope::Scope;

/// Decides the scope a request needs.
pub trait ScopePolicy: Send + Sync + 'static {
    /// The scope `request` needs, or `None` if any valid key may make it.
    fn required_scope(&self, request: &Parts) -> Option<Scope>;
}

impl<F> ScopePolicy for F
where
    F: Fn(&Parts) -> Option<Scope> + Send + Sync + 'static,
{
    fn required_scope(&self, request: &Parts) -> Option<Scope> {
        self(request)
    }
}

/// The default policy: `read:all` for safe methods, `write:all` for the rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct MethodPolicy;

impl MethodPolicy {
    /// The scope the method alone calls for.
    pub fn scope_for(method: &Method) -> Scope {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            Scope::ReadAll
        } else {
            Scope::WriteAll
        }
    }
}

impl ScopePolicy for MethodPolicy {
    fn required_scope(&self, request: &Parts) -> Option<Scope> {
        Some(Self::scope_for(&request.method))
    }
}

/// A path pattern: literal segments, `*` for exactly one segment, and a final `**` for any
/// number of segments (zero included).
#[derive(Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
}

#[derive(Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    Rest,
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        let parts: Vec<&str> = path_segments(pattern).collect();
        let last = parts.len().saturating_sub(1);
        let segments = parts
            .iter()
            .enumerate()
            .map(|(i, s)| match *s {
                "**" if i == last => Segment::Rest,
                "*" => Segment::One,
                other => Segment::Literal(other.to_owned()),
            })
            .collect();
        Self { segments }
    }

    fn matches(&self, path: &str) -> bool {
        let mut resolved: Vec<&str> = Vec::new();
        for seg in path_segments(path) {
            if seg == ".." {
                resolved.pop();
            } else {
                resolved.push(seg);
            }
        }
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Rest => return true,
                Segment::One if i < resolved.len() => {}
                Segment::Literal(l) if resolved.get(i) == Some(&l.as_str()) => {}
                _ => return false,
            }
            i += 1;
        }
        i == resolved.len()
    }
}

/// Path segments, skipping empty and `.` ones, so `/v1//admin/./keys` reads as
/// `/v1/admin/keys`: a rule cannot be dodged by spelling a path differently.
fn path_segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty() && *s != ".")
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.segments {
            match s {
                Segment::Literal(l) => write!(f, "/{l}")?,
                Segment::One => f.write_str("/*")?,
                Segment::Rest => f.write_str("/**")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Rule {
    method: Option<Method>,
    pattern: Pattern,
    scope: Option<Scope>,
}

/// Scope rules by path (and optionally method), first match wins; requests no rule matches
/// get the [`MethodPolicy`] default.
///
/// Paths are compared segment by segment after dropping empty and `.` segments and resolving
/// `..`, so that `/v1//admin` and `/v1/x/../admin` meet the rules for `/v1/admin`.
#[derive(Debug, Clone, Default)]
pub struct RoutePolicy {
    rules: Vec<Rule>,
}

impl RoutePolicy {
    /// No rules yet: everything gets the method default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests whose path matches `pattern`, whatever their method, need `scope`.
    pub fn route(mut self, pattern: &str, scope: Scope) -> Self {
        self.rules.push(Rule {
            method: None,
            pattern: Pattern::new(pattern),
            scope: Some(scope),
        });
        self
    }

    /// Requests with `method` whose path matches `pattern` need `scope`.
    pub fn route_method(mut self, method: Method, pattern: &str, scope: Scope) -> Self {
        self.rules.push(Rule {
            method: Some(method),
            pattern: Pattern::new(pattern),
            scope: Some(scope),
        });
        self
    }

    /// Requests whose path matches `pattern` need a valid key but no particular scope.
    pub fn any_scope(mut self, pattern: &str) -> Self {
        self.rules.push(Rule {
            method: None,
            pattern: Pattern::new(pattern),
            scope: None,
        });
        self
    }
}

impl ScopePolicy for RoutePolicy {
    fn required_scope(&self, request: &Parts) -> Option<Scope> {
        let path = request.uri.path();
        for rule in &self.rules {
            if rule.method.as_ref().is_none_or(|m| *m == request.method)
                && rule.pattern.matches(path)
            {
                return rule.scope.clone();
            }
        }
        Some(MethodPolicy::scope_for(&request.method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn head(method: Method, path: &str) -> Parts {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn safe_methods_need_read_all() {
        for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert_eq!(
                MethodPolicy.required_scope(&head(m, "/")),
                Some(Scope::ReadAll)
            );
        }
    }

    #[test]
    fn unsafe_methods_need_write_all() {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(
                MethodPolicy.required_scope(&head(m, "/")),
                Some(Scope::WriteAll)
            );
        }
    }

    #[test]
    fn double_star_matches_the_prefix_and_everything_below_it() {
        let p = Pattern::new("/v1/admin/**");
        assert!(p.matches("/v1/admin"));
        assert!(p.matches("/v1/admin/keys/abc"));
        assert!(!p.matches("/v1/administrator"));
        assert!(!p.matches("/v1/records"));
    }

    #[test]
    fn single_star_matches_exactly_one_segment() {
        let p = Pattern::new("/v1/users/*/keys");
        assert!(p.matches("/v1/users/42/keys"));
        assert!(!p.matches("/v1/users/keys"));
        assert!(!p.matches("/v1/users/1/2/keys"));
    }

    #[test]
    fn admin_rule_cannot_be_dodged_by_respelling_the_path() {
        let policy = RoutePolicy::new().route("/v1/admin/**", Scope::Admin);
        for path in [
            "/v1//admin/keys",
            "/v1/./admin/keys",
            "/v1/records/../admin/keys",
            "/v1/admin/",
        ] {
            assert_eq!(
                policy.required_scope(&head(Method::GET, path)),
                Some(Scope::Admin),
                "{path}"
            );
        }
    }

    #[test]
    fn first_matching_rule_wins_and_method_rules_only_match_their_method() {
        let policy = RoutePolicy::new()
            .route_method(Method::GET, "/v1/reports", Scope::read("reports").unwrap())
            .route("/v1/**", Scope::Admin);
        assert_eq!(
            policy.required_scope(&head(Method::GET, "/v1/reports")),
            Some(Scope::read("reports").unwrap())
        );
        assert_eq!(
            policy.required_scope(&head(Method::POST, "/v1/reports")),
            Some(Scope::Admin)
        );
    }

    #[test]
    fn any_scope_rule_needs_no_particular_scope() {
        let policy = RoutePolicy::new().any_scope("/v1/whoami");
        assert_eq!(
            policy.required_scope(&head(Method::POST, "/v1/whoami")),
            None
        );
    }

    #[test]
    fn a_closure_is_a_policy() {
        let policy = |parts: &Parts| (parts.uri.path() == "/open").then_some(Scope::ReadAll);
        assert_eq!(
            policy.required_scope(&head(Method::POST, "/open")),
            Some(Scope::ReadAll)
        );
        assert_eq!(policy.required_scope(&head(Method::POST, "/x")), None);
    }
}
