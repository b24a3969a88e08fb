//! [`KeyLocation`]: where in a request the layer looks for the API key, and how each location
//! reads it.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderName};

use super::extract::{self, ExtractError, MAX_TOKEN_LEN, Malformed};

/// Where the layer looks for the API key: `Authorization: Bearer` (the default), a named
/// header, or a function of the request headers. Set it with
/// [`ApiKeyLayerBuilder::key_location`](crate::ApiKeyLayerBuilder::key_location). Clones share
/// a custom extractor (a reference count).
///
/// | location | where the key is | marked sensitive |
/// |---|---|---|
/// | [`KeyLocation::bearer`] (default) | `Authorization: Bearer <key>` (RFC 6750 §2.1) | `Authorization` |
/// | [`KeyLocation::header`] | the whole value of one named header, e.g. `X-API-Key: <key>` | that header |
/// | [`KeyLocation::custom`] | wherever your function finds it in the request headers | none (use tower-http's `SetSensitiveRequestHeadersLayer`) |
///
/// Every location answers with the same error table: no key is `missing_api_key`; a key that
/// is not exactly one well-formed key of this service (several headers, empty, whitespace, a
/// character outside the RFC 6750 `b64token` alphabet, longer than
/// [`MAX_TOKEN_LEN`](crate::extract::MAX_TOKEN_LEN), wrong prefix or checksum) is
/// `malformed_api_key`.
///
/// **There is no query-string location**, and a custom extractor is given the headers only,
/// never the URI: a key in a URL is written to access logs, proxy logs, browser history and
/// `Referer` headers, and cannot be taken back from them. A request with `?api_key=…` is
/// answered as if the parameter were not there.
///
/// **One credential per request.** With a named header, a request that also carries an
/// `Authorization` header (any scheme, even empty), or a header spelled like the configured one
/// with `_` for `-` (`x_api_key` for `x-api-key`), is `malformed_api_key` ("ambiguous
/// credentials") rather than authenticated by one of them. A proxy, a WAF or the service
/// behind the layer may read the other one (CGI-style gateways fold `_` and `-` together), and
/// must never see a different key from the one keygate checked. Only the configured header is
/// read; an `Authorization` header alone is ignored, so the request is `missing_api_key`.
///
/// **The challenge stays `Bearer`.** Every location's 401 carries
/// `WWW-Authenticate: Bearer realm="…"` with the `error` and `error_description` the error table
/// gives. RFC 9110 §11.6.1 requires a challenge on every 401, so omitting it is not an option;
/// no registered authentication scheme names a custom header, and an invented one would be
/// ignored or misread by clients. The key is a bearer credential in RFC 6750's sense (whoever
/// holds it is authorized), `RequireScopeLayer` and the admin API answer with the same
/// challenge, and the problem body says which header to use once its `fix` is set (see
/// [`DefaultRejection::fix`](crate::respond::DefaultRejection::fix)).
///
/// ```
/// use http::{HeaderMap, HeaderName};
/// use keygate::extract::{ExtractError, Malformed};
/// use keygate::{ApiKeyLayer, KeyLocation, MemoryKeyStore, MemoryRateLimiter};
///
/// // `X-API-Key: <key>`.
/// let layer = ApiKeyLayer::builder(MemoryKeyStore::new(), MemoryRateLimiter::new())
///     .key_location(KeyLocation::header(HeaderName::from_static("x-api-key")))
///     .build();
///
/// // `Authorization: Token <key>`, read by a function of the headers.
/// let token = KeyLocation::custom(|headers: &HeaderMap| {
///     let value = headers.get("authorization").ok_or(ExtractError::Missing)?;
///     value
///         .as_bytes()
///         .strip_prefix(b"Token ")
///         .ok_or(ExtractError::Malformed(Malformed::NotBearer))
/// });
/// # let _ = (layer, token);
/// ```
#[derive(Clone, Default)]
pub struct KeyLocation(Location);

#[derive(Clone, Default)]
enum Location {
    #[default]
    Bearer,
    Header(HeaderName),
    Custom(Arc<Custom>),
}

/// A function that finds the key in the request headers.
type Extract = dyn for<'a> Fn(&'a HeaderMap) -> Result<&'a [u8], ExtractError> + Send + Sync;

struct Custom {
    extract: Box<Extract>,
    /// Whether a panic of the extractor was logged already: it is logged once.
    panicked: AtomicBool,
}

impl KeyLocation {
    /// `Authorization: Bearer <key>` (RFC 6750 §2.1), the default; see
    /// [`extract`](crate::extract) for how the header is parsed.
    pub fn bearer() -> Self {
        Self(Location::Bearer)
    }

    /// The whole value of the header `name` is the key (`X-API-Key: <key>`), its surrounding
    /// spaces trimmed. Several `name` headers, an empty one, or an `Authorization` header beside
    /// it are malformed (see [`KeyLocation`]). `KeyLocation::header(AUTHORIZATION)` reads a
    /// key sent without a scheme (`Authorization: <key>`).
    pub fn header(name: HeaderName) -> Self {
        Self(Location::Header(name))
    }

    /// `extract` finds the key in the request headers and returns its bytes, borrowed from
    /// them (nothing is allocated): [`ExtractError::Missing`] when the request carries none,
    /// [`ExtractError::Malformed`] when it carries one that cannot be used. The layer then
    /// checks what it returns as it checks a Bearer token (empty, too long, `b64token`
    /// alphabet, key format and checksum).
    ///
    /// The function sees the headers only, so no key can come from the URL. It is told nothing
    /// of other places a key might be: refusing a request that carries two is its job. A panic
    /// in it is caught and logged (the first time), and the request is answered
    /// `malformed_api_key`.
    pub fn custom<F>(extract: F) -> Self
    where
        F: for<'a> Fn(&'a HeaderMap) -> Result<&'a [u8], ExtractError> + Send + Sync + 'static,
    {
        Self(Location::Custom(Arc::new(Custom {
            extract: Box::new(extract),
            panicked: AtomicBool::new(false),
        })))
    }

    /// The key's bytes, their shape checked (one credential, not empty, not too long) but not
    /// their characters.
    #[inline]
    pub(crate) fn token<'a>(&self, headers: &'a HeaderMap) -> Result<&'a [u8], ExtractError> {
        match &self.0 {
            Location::Bearer => extract::bearer_bytes(headers),
            Location::Header(name) => header_token(headers, name),
            Location::Custom(custom) => custom.token(headers),
        }
    }

    /// The header the key was read from, to mark sensitive once it is accepted.
    #[inline]
    pub(crate) fn sensitive_header(&self) -> Option<&HeaderName> {
        match &self.0 {
            Location::Bearer => Some(&AUTHORIZATION),
            Location::Header(name) => Some(name),
            Location::Custom(_) => None,
        }
    }

    /// The `reason` of `missing_api_key`, when it is not the error table's ("No Authorization
    /// header was sent").
    pub(crate) fn missing_reason(&self) -> Option<&'static str> {
        match &self.0 {
            Location::Bearer => None,
            Location::Header(_) => Some("No API key header was sent"),
            Location::Custom(_) => Some("No API key was sent"),
        }
    }
}

impl fmt::Debug for KeyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Location::Bearer => f.write_str("Bearer"),
            Location::Header(name) => f.debug_tuple("Header").field(name).finish(),
            Location::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// The one `name` header's value, trimmed, with no other credential beside it.
fn header_token<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a [u8], ExtractError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(ExtractError::Missing)?;
    let malformed = |how| Err(ExtractError::Malformed(how));
    if (name != AUTHORIZATION && headers.contains_key(AUTHORIZATION)) || has_twin(headers, name) {
        return malformed(Malformed::AmbiguousCredentials);
    }
    if values.next().is_some() {
        return malformed(Malformed::MultipleKeyHeaders);
    }
    checked_len(value.as_bytes().trim_ascii())
}

/// Whether `headers` hold a header named like `name` but with `_` where `name` has `-`, or
/// the other way round: a different header to keygate, the same to servers that fold them.
fn has_twin(headers: &HeaderMap, name: &HeaderName) -> bool {
    let name = name.as_str().as_bytes();
    if !name.iter().any(|&b| b == b'-' || b == b'_') {
        return false;
    }
    let fold = |b: u8| if b == b'_' { b'-' } else { b };
    headers.keys().any(|other| {
        let other = other.as_str().as_bytes();
        other != name
            && other.len() == name.len()
            && other.iter().zip(name).all(|(&a, &b)| fold(a) == fold(b))
    })
}

/// `token` if it is neither empty nor longer than [`MAX_TOKEN_LEN`].
fn checked_len(token: &[u8]) -> Result<&[u8], ExtractError> {
    if token.is_empty() {
        return Err(ExtractError::Malformed(Malformed::EmptyKey));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(ExtractError::Malformed(Malformed::TooLong));
    }
    Ok(token)
}

impl Custom {
    /// The extractor's answer, its length checked; a panic becomes
    /// [`Malformed::Unreadable`].
    fn token<'a>(&self, headers: &'a HeaderMap) -> Result<&'a [u8], ExtractError> {
        match catch_unwind(AssertUnwindSafe(|| (self.extract)(headers))) {
            Ok(found) => checked_len(found?),
            Err(_) => {
                if !self.panicked.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        "the custom key location's extractor panicked; the request was answered \
                         malformed_api_key (further panics of this extractor are not logged)"
                    );
                }
                Err(ExtractError::Malformed(Malformed::Unreadable))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn read(
        location: &KeyLocation,
        pairs: &[(&'static str, &'static str)],
    ) -> Result<Vec<u8>, ExtractError> {
        location.token(&headers(pairs)).map(<[u8]>::to_vec)
    }

    fn malformed(how: Malformed) -> Result<Vec<u8>, ExtractError> {
        Err(ExtractError::Malformed(how))
    }

    #[test]
    fn the_default_location_is_bearer() {
        let found = read(&KeyLocation::default(), &[("authorization", "Bearer abc")]);
        assert_eq!(found, Ok(b"abc".to_vec()));
    }

    #[test]
    fn a_named_header_gives_its_whole_value_trimmed() {
        let location = KeyLocation::header(X_API_KEY);
        assert_eq!(
            read(&location, &[("x-api-key", " abc ")]),
            Ok(b"abc".to_vec())
        );
    }

    #[test]
    fn a_named_header_that_is_absent_is_missing_even_beside_authorization() {
        let location = KeyLocation::header(X_API_KEY);
        assert_eq!(read(&location, &[]), Err(ExtractError::Missing));
        assert_eq!(
            read(&location, &[("authorization", "Bearer abc")]),
            Err(ExtractError::Missing)
        );
    }

    #[test]
    fn a_named_header_beside_any_authorization_header_is_ambiguous() {
        let location = KeyLocation::header(X_API_KEY);
        for authorization in ["Bearer abc", "Basic dXNlcjpwYXNz", ""] {
            let found = read(
                &location,
                &[("x-api-key", "abc"), ("authorization", authorization)],
            );
            assert_eq!(found, malformed(Malformed::AmbiguousCredentials));
        }
    }

    #[test]
    fn a_named_header_beside_its_underscore_twin_is_ambiguous() {
        let location = KeyLocation::header(X_API_KEY);
        let found = read(&location, &[("x-api-key", "abc"), ("x_api_key", "def")]);
        assert_eq!(found, malformed(Malformed::AmbiguousCredentials));
        let unrelated = read(&location, &[("x-api-key", "abc"), ("x-api-kex", "def")]);
        assert_eq!(unrelated, Ok(b"abc".to_vec()));
    }

    #[test]
    fn two_named_headers_are_malformed() {
        let location = KeyLocation::header(X_API_KEY);
        let found = read(&location, &[("x-api-key", "abc"), ("x-api-key", "abc")]);
        assert_eq!(found, malformed(Malformed::MultipleKeyHeaders));
    }

    #[test]
    fn an_empty_named_header_is_malformed() {
        let location = KeyLocation::header(X_API_KEY);
        assert_eq!(
            read(&location, &[("x-api-key", "  ")]),
            malformed(Malformed::EmptyKey)
        );
    }

    #[test]
    fn authorization_as_the_named_header_reads_a_key_without_a_scheme() {
        let location = KeyLocation::header(AUTHORIZATION);
        assert_eq!(
            read(&location, &[("authorization", "abc")]),
            Ok(b"abc".to_vec())
        );
    }

    #[test]
    fn a_custom_extractor_too_long_answer_is_malformed() {
        let location = KeyLocation::custom(|_: &HeaderMap| Ok(&[b'a'; MAX_TOKEN_LEN + 1][..]));
        assert_eq!(read(&location, &[]), malformed(Malformed::TooLong));
    }

    #[test]
    fn a_custom_extractor_that_panics_is_answered_unreadable() {
        let location = KeyLocation::custom(|_: &HeaderMap| panic!("extractor bug"));
        assert_eq!(read(&location, &[]), malformed(Malformed::Unreadable));
        assert_eq!(read(&location, &[]), malformed(Malformed::Unreadable));
    }

    #[test]
    fn each_location_marks_the_header_it_reads_sensitive() {
        assert_eq!(
            KeyLocation::bearer().sensitive_header(),
            Some(&AUTHORIZATION)
        );
        assert_eq!(
            KeyLocation::header(X_API_KEY).sensitive_header(),
            Some(&X_API_KEY)
        );
        let custom = KeyLocation::custom(|_: &HeaderMap| Err(ExtractError::Missing));
        assert_eq!(custom.sensitive_header(), None);
    }
}
