//! Which scope a request needs.
//!
//! - [`MethodPolicy`] (the default): safe methods (`GET`, `HEAD`, `OPTIONS`, `TRACE`) need
//!   `read:all`; every other method (`POST`, `PUT`, `PATCH`, `DELETE`, …) needs `write:all`.
//! - [`RoutePolicy`]: rules by path pattern (and optionally method), first match wins, falling
//!   back to the method default. A rule for `GET` also covers `HEAD`, because routers (axum
//!   among them) answer `HEAD` with the `GET` handler.
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
//!
//! # The path a rule sees is the path the router routes
//!
//! A rule protects a handler only if the policy and the router read the request path the same
//! way. Routers do not agree with each other (or with RFC 3986) about respellings: axum's
//! router (matchit) does not resolve `.`/`..`, hands them to a `{param}` or `{*wildcard}`,
//! binds an empty `{param}` for `//`, and percent-decodes parameters after matching on the raw
//! path; a reverse proxy or a path-normalising middleware may resolve the same path to a
//! different route. So the layer first **refuses**, with 400 `malformed_request` and before any
//! key is looked up, every path whose reading depends on who reads it ([`check_path`]):
//!
//! | refused | e.g. | why |
//! |---|---|---|
//! | a dot segment, in any spelling | `/v1/admin/..`, `/a/%2e%2E`, `/a/.%2e/b`, `/./a` | matchit routes it as a literal segment; normalisers resolve it |
//! | an empty segment other than a final one | `/v1//admin`, `//v1/admin` | matchit binds an empty `{param}` to it; normalisers collapse it |
//! | a percent-encoded `/` or `\` | `/v1/admin%2Fkeys`, `/a%5cb` | one segment to matchit, two to decoders |
//! | a percent-encoded unreserved character (letter, digit, `-._~`) | `/v1/%61dmin/list` | matchit matches `%61dmin` literally but hands `admin` to the handler; decoders route it as `admin` |
//! | a `%` not followed by two hex digits | `/a%zz`, `/a%4` | decoders disagree |
//! | a backslash | `/v1\admin` | some servers read it as `/` |
//! | a `;` (path parameters) | `/v1/admin;x=1/keys` | matchit sees the segment `admin;x=1`; servers and proxies that strip path parameters see `admin` |
//!
//! What is left is matched **literally**, segment by segment, **case-sensitively** and
//! **without decoding**, exactly as matchit (axum), hyper-based routers and tonic
//! (`/package.Service/Method`) route it: a segment that is not spelled like a rule's literal is
//! not routed to that literal's handler either. Everything still percent-encoded is a
//! reserved or non-ASCII character, which none of these routers decodes before matching.
//! Case-insensitive routers are not supported: with one, rules could be dodged by `/V1/ADMIN`.
//!
//! A **trailing slash** is ignored: `/v1/admin/` meets the rules for `/v1/admin`. matchit
//! routes `/v1/admin/` to a route written `/v1/admin/` (which the rule for `/v1/admin` then
//! covers) or to nothing: it never binds an empty final `{param}` or `{*wildcard}`. Routers
//! and middleware that strip the slash route it to `/v1/admin`, which the rule covers too.
//! A `*` therefore never has to match an empty segment: empty inner segments are refused and
//! a final one is dropped.
//!
//! The query string is not part of the path and is never matched.
//!
//! # Patterns
//!
//! A pattern is a path of literal segments, where `*` stands for exactly one segment and a
//! final `**` for zero or more. Literals are compared byte for byte, case-sensitively.
//!
//! | pattern | path | matches |
//! |---|---|---|
//! | `/v1/admin/**` | `/v1/admin` | yes |
//! | `/v1/admin/**` | `/v1/admin/` | yes |
//! | `/v1/admin/**` | `/v1/admin/keys/abc` | yes |
//! | `/v1/admin/**` | `/v1/administrator` | no |
//! | `/v1/admin/**` | `/V1/ADMIN/keys` | no (a case-sensitive router does not route it there either) |
//! | `/v1/users/*/keys` | `/v1/users/42/keys` | yes |
//! | `/v1/users/*/keys` | `/v1/users/keys` | no |
//! | `/v1/users/*/keys` | `/v1/users/1/2/keys` | no |
//! | `/v1/reports` | `/v1/reports/` | yes |
//! | `/v1/reports` | `/v1/reports/x` | no |
//! | `/pkg.Greeter/*` | `/pkg.Greeter/SayHello` | yes |
//!
//! ```
//! use http::{Method, Request};
//! use keygate::policy::{RoutePolicy, ScopePolicy};
//! use keygate::Scope;
//!
//! let matches = |pattern: &str, path: &str| {
//!     let policy = RoutePolicy::new().route(pattern, Scope::Admin);
//!     let parts = Request::get(path).body(()).unwrap().into_parts().0;
//!     policy.required_scope(&parts) == Some(Scope::Admin)
//! };
//! for (pattern, path, expected) in [
//!     ("/v1/admin/**", "/v1/admin", true),
//!     ("/v1/admin/**", "/v1/admin/", true),
//!     ("/v1/admin/**", "/v1/admin/keys/abc", true),
//!     ("/v1/admin/**", "/v1/administrator", false),
//!     ("/v1/admin/**", "/V1/ADMIN/keys", false),
//!     ("/v1/users/*/keys", "/v1/users/42/keys", true),
//!     ("/v1/users/*/keys", "/v1/users/keys", false),
//!     ("/v1/users/*/keys", "/v1/users/1/2/keys", false),
//!     ("/v1/reports", "/v1/reports/", true),
//!     ("/v1/reports", "/v1/reports/x", false),
//!     ("/pkg.Greeter/*", "/pkg.Greeter/SayHello", true),
//! ] {
//!     assert_eq!(matches(pattern, path), expected, "{pattern} {path}");
//! }
//! ```

use std::fmt;

use http::Method;
use http::request::Parts;

use crate::scope::Scope;

/// Decides the scope a request needs.
pub trait ScopePolicy: Send + Sync + 'static {
    /// The scope `request` needs, or `None` if any valid key may make it.
    fn required_scope(&self, request: &Parts) -> Option<Scope>;

    /// The units `request` costs a key under a [plan](crate::plan): every limit of the plan
    /// spends this many (at least 1). The default is 1.
    fn cost(&self, request: &Parts) -> u32 {
        let _ = request;
        1
    }
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

/// Why [`check_path`] refused a request path: the ways a path can be read differently by
/// different routers (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmbiguousPath {
    /// A `.` or `..` segment, in any spelling (`%2e`, `.%2E`, …).
    #[error("the path contains a dot segment")]
    DotSegment,
    /// An empty segment other than a final one (`//`).
    #[error("the path contains an empty segment")]
    EmptySegment,
    /// A percent-encoded `/` or `\` (`%2F`, `%5C`).
    #[error("the path contains a percent-encoded slash or backslash")]
    EncodedSeparator,
    /// A percent-encoded letter, digit, `-`, `.`, `_` or `~`.
    #[error("the path percent-encodes a character that needs no encoding")]
    EncodedUnreserved,
    /// A `%` not followed by two hexadecimal digits.
    #[error("the path contains an invalid percent-encoding")]
    InvalidEncoding,
    /// A backslash.
    #[error("the path contains a backslash")]
    Backslash,
    /// A `;` (path parameters).
    #[error("the path contains a ';' parameter")]
    Parameter,
}

impl AmbiguousPath {
    /// A one-line description, safe to send to the client (it never quotes the path).
    pub fn description(self) -> &'static str {
        match self {
            AmbiguousPath::DotSegment => "The request path contains a '.' or '..' segment",
            AmbiguousPath::EmptySegment => "The request path contains an empty segment ('//')",
            AmbiguousPath::EncodedSeparator => {
                "The request path contains a percent-encoded '/' or '\\'"
            }
            AmbiguousPath::EncodedUnreserved => {
                "The request path percent-encodes a letter, digit, '-', '.', '_' or '~'"
            }
            AmbiguousPath::InvalidEncoding => {
                "The request path contains a '%' not followed by two hexadecimal digits"
            }
            AmbiguousPath::Backslash => "The request path contains a backslash",
            AmbiguousPath::Parameter => "The request path contains a ';' parameter",
        }
    }
}

/// Whether `path` reads the same to every router, or how it does not (see the
/// [module docs](self)). The layer refuses requests whose path fails this check with 400
/// `malformed_request` before it looks at the key.
///
/// ```
/// use keygate::policy::{check_path, AmbiguousPath};
///
/// assert_eq!(check_path("/v1/admin/keys"), Ok(()));
/// assert_eq!(check_path("/v1/admin/"), Ok(()));
/// assert_eq!(check_path("/v1/files/report%20v2.pdf"), Ok(()));
/// assert_eq!(check_path("/v1/admin/.."), Err(AmbiguousPath::DotSegment));
/// assert_eq!(check_path("/v1/admin/%2E%2e"), Err(AmbiguousPath::DotSegment));
/// assert_eq!(check_path("/v1//admin"), Err(AmbiguousPath::EmptySegment));
/// assert_eq!(check_path("/v1/admin%2fkeys"), Err(AmbiguousPath::EncodedSeparator));
/// assert_eq!(check_path("/v1/%61dmin"), Err(AmbiguousPath::EncodedUnreserved));
/// assert_eq!(check_path("/v1/admin;x=1/keys"), Err(AmbiguousPath::Parameter));
/// ```
pub fn check_path(path: &str) -> Result<(), AmbiguousPath> {
    // Most paths hold none of the bytes that can make them ambiguous: one pass tells.
    let mut previous = 0_u8;
    let plain = path.bytes().all(|b| {
        let doubled_slash = b == b'/' && previous == b'/';
        let ok = !(doubled_slash || matches!(b, b'%' | b'.' | b'\\' | b';'));
        previous = b;
        ok
    });
    if plain {
        return Ok(());
    }
    check_segments(path)
}

/// The full check, segment by segment.
fn check_segments(path: &str) -> Result<(), AmbiguousPath> {
    let mut segments = path.strip_prefix('/').unwrap_or(path).split('/').peekable();
    while let Some(segment) = segments.next() {
        if segment.is_empty() && segments.peek().is_some() {
            return Err(AmbiguousPath::EmptySegment);
        }
        check_segment(segment)?;
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), AmbiguousPath> {
    let bytes = segment.as_bytes();
    let (mut decoded_len, mut dots) = (0_usize, 0_usize);
    let mut encoded_unreserved = false;
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'\\' => return Err(AmbiguousPath::Backslash),
            b';' => return Err(AmbiguousPath::Parameter),
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(decode_escape)
                    .ok_or(AmbiguousPath::InvalidEncoding)?;
                if matches!(byte, b'/' | b'\\') {
                    return Err(AmbiguousPath::EncodedSeparator);
                }
                encoded_unreserved |= byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
                i += 3;
                byte
            }
            byte => {
                i += 1;
                byte
            }
        };
        decoded_len += 1;
        dots += usize::from(byte == b'.');
    }
    if dots == decoded_len && (1..=2).contains(&dots) {
        return Err(AmbiguousPath::DotSegment);
    }
    if encoded_unreserved {
        return Err(AmbiguousPath::EncodedUnreserved);
    }
    Ok(())
}

/// The byte two hexadecimal digits spell.
fn decode_escape(hex: &[u8]) -> Option<u8> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    match hex {
        [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
        _ => None,
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
        let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
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

    /// Whether `path`, which passed [`check_path`], matches: literally, segment by segment,
    /// with a final empty segment (a trailing slash) dropped.
    fn matches(&self, path: &str) -> bool {
        let mut segments = path_segments(path);
        for seg in &self.segments {
            match (seg, segments.next()) {
                (Segment::Rest, _) => return true,
                (Segment::One, Some(_)) => {}
                (Segment::Literal(l), Some(s)) if l == s => {}
                _ => return false,
            }
        }
        segments.next().is_none()
    }
}

/// The segments of a path that passed [`check_path`], without the empty one a trailing slash
/// leaves (so `/` has none).
fn path_segments(path: &str) -> impl Iterator<Item = &str> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    path.split('/').filter(|s| !s.is_empty())
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

/// Whether a rule for `rule` (any method when `None`) covers a request's `method`; a rule
/// for `GET` also covers `HEAD`, which routers answer with the `GET` handler.
fn covers(rule: Option<&Method>, method: &Method) -> bool {
    match rule {
        None => true,
        Some(m) => m == method || (*m == Method::GET && *method == Method::HEAD),
    }
}

#[derive(Debug, Clone)]
struct Rule {
    method: Option<Method>,
    pattern: Pattern,
    scope: Option<Scope>,
}

impl Rule {
    /// A rule for `GET` also covers `HEAD`: routers answer `HEAD` with the `GET` handler.
    fn covers(&self, method: &Method) -> bool {
        covers(self.method.as_ref(), method)
    }
}

/// Scope rules by path (and optionally method), first match wins; requests no rule matches
/// get the [`MethodPolicy`] default.
///
/// Paths are matched literally, segment by segment, case-sensitively, as routers route them;
/// a trailing slash is ignored (see the [module docs](self) for why every spelling is safe).
/// The layer refuses ambiguous paths ([`check_path`]) before it asks the policy; should one
/// reach a `RoutePolicy` anyway (a policy used outside the layer), it needs
/// [`Scope::Admin`].
#[derive(Debug, Clone, Default)]
pub struct RoutePolicy {
    rules: Vec<Rule>,
    costs: Vec<(Option<Method>, Pattern, u32)>,
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

    /// Requests with `method` whose path matches `pattern` need `scope`. A rule for
    /// [`Method::GET`] also covers `HEAD`, which routers send to the `GET` handler.
    pub fn route_method(mut self, method: Method, pattern: &str, scope: Scope) -> Self {
        self.rules.push(Rule {
            method: Some(method),
            pattern: Pattern::new(pattern),
            scope: Some(scope),
        });
        self
    }

    /// Requests whose path matches `pattern` cost a key under a [plan](crate::plan) `units`
    /// of every limit instead of 1 (an expensive endpoint). The first cost rule that matches
    /// wins; `units` is at least 1 and at most [`MAX_COST`](crate::plan::MAX_COST).
    ///
    /// ```
    /// use http::{Method, Request};
    /// use keygate::policy::{RoutePolicy, ScopePolicy};
    ///
    /// let policy = RoutePolicy::new()
    ///     .route_method_cost(Method::POST, "/v1/reports", 25)
    ///     .route_cost("/v1/reports/**", 10);
    /// let parts = |m: Method, p: &str| Request::builder().method(m).uri(p).body(()).unwrap().into_parts().0;
    /// assert_eq!(policy.cost(&parts(Method::POST, "/v1/reports")), 25);
    /// assert_eq!(policy.cost(&parts(Method::GET, "/v1/reports/7")), 10);
    /// assert_eq!(policy.cost(&parts(Method::GET, "/v1/records")), 1);
    /// ```
    pub fn route_cost(mut self, pattern: &str, units: u32) -> Self {
        self.costs.push((
            None,
            Pattern::new(pattern),
            units.clamp(1, crate::plan::MAX_COST),
        ));
        self
    }

    /// Requests with `method` whose path matches `pattern` cost `units` (see
    /// [`route_cost`](Self::route_cost)). A rule for [`Method::GET`] also covers `HEAD`.
    pub fn route_method_cost(mut self, method: Method, pattern: &str, units: u32) -> Self {
        self.costs.push((
            Some(method),
            Pattern::new(pattern),
            units.clamp(1, crate::plan::MAX_COST),
        ));
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
        if check_path(path).is_err() {
            return Some(Scope::Admin);
        }
        self.rules
            .iter()
            .find(|rule| rule.covers(&request.method) && rule.pattern.matches(path))
            .map_or_else(
                || Some(MethodPolicy::scope_for(&request.method)),
                |rule| rule.scope.clone(),
            )
    }

    fn cost(&self, request: &Parts) -> u32 {
        if self.costs.is_empty() {
            return 1;
        }
        let path = request.uri.path();
        let method = &request.method;
        self.costs
            .iter()
            .find(|(m, pattern, _)| covers(m.as_ref(), method) && pattern.matches(path))
            .map_or(1, |(_, _, units)| *units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_one_pass_answer_agrees_with_the_segment_check(path in "[/a.%2eEf5Cc;\\\\]{0,12}") {
            prop_assert_eq!(check_path(&path), check_segments(&path));
        }
    }

    fn head(method: Method, path: &str) -> Parts {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    fn needs(policy: &impl ScopePolicy, method: Method, path: &str) -> Option<Scope> {
        policy.required_scope(&head(method, path))
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
    fn every_spelling_of_a_dot_segment_is_ambiguous() {
        for path in [
            "/.",
            "/..",
            "/v1/admin/..",
            "/v1/./admin",
            "/v1/admin/%2e",
            "/v1/admin/%2E%2e",
            "/v1/admin/.%2E",
            "/v1/admin/%2e.",
            "/v1/admin/../",
        ] {
            assert_eq!(check_path(path), Err(AmbiguousPath::DotSegment), "{path}");
        }
    }

    #[test]
    fn dots_inside_a_segment_are_plain_characters() {
        for path in [
            "/pkg.Service/Method",
            "/v1/...",
            "/v1/a..b",
            "/.well-known/x",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn every_other_respelling_is_ambiguous_for_its_own_reason() {
        for (path, why) in [
            ("//v1", AmbiguousPath::EmptySegment),
            ("/v1//admin", AmbiguousPath::EmptySegment),
            ("/v1/admin%2fkeys", AmbiguousPath::EncodedSeparator),
            ("/v1/admin%2F", AmbiguousPath::EncodedSeparator),
            ("/v1/admin%5ckeys", AmbiguousPath::EncodedSeparator),
            ("/v1/%61dmin", AmbiguousPath::EncodedUnreserved),
            ("/v1/admin%7E", AmbiguousPath::EncodedUnreserved),
            ("/v1/a%2eb", AmbiguousPath::EncodedUnreserved),
            ("/v1/admin%zz", AmbiguousPath::InvalidEncoding),
            ("/v1/admin%4", AmbiguousPath::InvalidEncoding),
            ("/v1/admin%", AmbiguousPath::InvalidEncoding),
            ("/v1\\admin", AmbiguousPath::Backslash),
            ("/v1/admin;x=1/keys", AmbiguousPath::Parameter),
        ] {
            assert_eq!(check_path(path), Err(why), "{path}");
        }
    }

    #[test]
    fn plain_paths_and_escaped_reserved_characters_are_not_ambiguous() {
        for path in [
            "/",
            "/v1/records",
            "/v1/records/",
            "/v1/a%20b",
            "/v1/a%3Bb",
            "*",
            "",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn a_get_rule_also_covers_head() {
        let policy = RoutePolicy::new().route_method(Method::GET, "/v1/reports", Scope::Admin);
        assert_eq!(
            needs(&policy, Method::HEAD, "/v1/reports"),
            Some(Scope::Admin)
        );
        assert_eq!(
            needs(&policy, Method::OPTIONS, "/v1/reports"),
            Some(Scope::ReadAll)
        );
    }

    #[test]
    fn a_trailing_slash_meets_the_rule_for_the_path_without_it() {
        let policy = RoutePolicy::new()
            .route("/v1/reports", Scope::Admin)
            .route("/v1/users/*", Scope::Admin);
        for path in ["/v1/reports/", "/v1/users/42/"] {
            assert_eq!(
                needs(&policy, Method::GET, path),
                Some(Scope::Admin),
                "{path}"
            );
        }
        assert_eq!(
            needs(&policy, Method::GET, "/v1/users/"),
            Some(Scope::ReadAll)
        );
    }

    #[test]
    fn literals_match_byte_for_byte_without_decoding_or_case_folding() {
        let p = Pattern::new("/v1/admin/**");
        assert!(!p.matches("/V1/admin"));
        assert!(!p.matches("/v1/Admin/keys"));
        assert!(!p.matches("/v1/admin%20/keys"));
    }

    #[test]
    fn an_ambiguous_path_that_reaches_the_policy_needs_admin() {
        let policy = RoutePolicy::new().any_scope("/**");
        assert_eq!(
            needs(&policy, Method::GET, "/v1/admin/.."),
            Some(Scope::Admin)
        );
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
