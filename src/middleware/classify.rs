//! Stage 1, classification: everything decided from the request alone, before any backend is
//! asked. In order: the protocol of the answer (gRPC or HTTP), the transport (HTTPS when
//! required), the path (refused when routers could read it two ways), the credential (from
//! the [`KeyLocation`](crate::KeyLocation), `Authorization: Bearer` by default, then the key
//! format and checksum), and the client's failure budget. A request that passes leaves with its key id, the digest of its secret and the
//! client its failures count against.
//!
//! With [`imported_keys`](crate::ApiKeyLayerBuilder::imported_keys) on, a token that is not a
//! key of this service but may be one imported from another scheme (a b64token of
//! [`MIN_IMPORTED_TOKEN_LEN`]`..=`[`MAX_TOKEN_LEN`] characters that does not start with this
//! service's `<prefix>_`) passes too: it leaves with the digest of the whole token, by which
//! the store finds it ([`KeyStore::get_by_digest`](crate::KeyStore::get_by_digest)).

use http::Request;
use http::header::CONTENT_TYPE;

use crate::code::ErrorCode;
use crate::extract::MAX_TOKEN_LEN;
use crate::key::{self, KeyDigest, KeyFormatError, KeyId, KeyPrefix};
use crate::limit::{Client, Refusal};
use crate::policy;
use crate::rejection::Rejection;
use crate::store::MIN_IMPORTED_TOKEN_LEN;

use super::client_addr::ClientAddr;
use super::extract::{self, ExtractError, Malformed};
use super::pipeline::Pipeline;
use super::transport;

/// A request's credential, once it is known to be a well-formed key of this service (or, with
/// imported keys on, a token that may be a key imported in another format).
pub(crate) struct Credential {
    /// How the store finds its key.
    pub(crate) lookup: Lookup,
    /// SHA-256 of the presented secret: the secret part of a key of this service, the whole
    /// token of an imported one.
    pub(crate) digest: KeyDigest,
    /// Whether the answer must be a gRPC status.
    pub(crate) grpc: bool,
    /// Whom a failure of this request counts against (when failures are limited).
    pub(crate) client: Client,
}

/// How the store is asked for a credential's key.
#[derive(Clone, Copy)]
pub(crate) enum Lookup {
    /// By the id inside a key of this service.
    Id(KeyId),
    /// By the digest of the whole token, for a token in another format; why it is not a key
    /// of this service, for the `malformed_api_key` of a store that keeps no imported keys.
    Digest(KeyFormatError),
}

impl Credential {
    /// The key id the request presented, if its token has one.
    pub(crate) fn key_id(&self) -> Option<KeyId> {
        match self.lookup {
            Lookup::Id(id) => Some(id),
            Lookup::Digest(_) => None,
        }
    }
}

/// Whether `token` (not a key of this service: it did not parse) may be a key imported from
/// another scheme: a b64token of [`MIN_IMPORTED_TOKEN_LEN`]`..=`[`MAX_TOKEN_LEN`] characters
/// that does not start with `<prefix>_` (a token that does is a mistyped key of this service,
/// never another format).
pub(crate) fn is_imported_token(token: &[u8], prefix: &KeyPrefix) -> bool {
    let p = prefix.as_str().as_bytes();
    let ours = token.starts_with(p) && token.get(p.len()) == Some(&b'_');
    (MIN_IMPORTED_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len())
        && !ours
        && extract::check_b64token(token).is_ok()
}

/// Whether a request is a gRPC request: its `content-type` begins with `application/grpc`
/// (`application/grpc`, `application/grpc+proto`, …), the test the gRPC over HTTP/2 spec gives
/// servers.
pub(crate) fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

impl<K, L, P, R> Pipeline<K, L, P, R> {
    /// Classifies `request`; on success the header its key came from (`Authorization`, or the
    /// named header) is marked sensitive (never indexed by HPACK, printed as `Sensitive` by
    /// `Debug`) wherever the request goes next.
    pub(crate) fn classify<B>(&self, request: &mut Request<B>) -> Result<Credential, Rejection> {
        let grpc = is_grpc(request.headers());
        let settings = &self.settings;
        if settings.require_https && !transport::is_https(request, settings.trusted_proxy) {
            return Err(self.reject(ErrorCode::HttpsRequired, grpc));
        }
        if let Err(ambiguous) = policy::check_path(request.uri().path()) {
            return Err(self
                .reject(ErrorCode::MalformedRequest, grpc)
                .with_reason(ambiguous.description()));
        }
        let location = &settings.location;
        let presented = match location.token(request.headers()) {
            // A key's alphabet is narrower than a b64token's: a token that parses as a key
            // needs no character check of its own.
            Ok(token) => match key::parse_bytes(token, &settings.prefix) {
                Ok(parsed) => Ok(parsed),
                Err(not_a_key)
                    if settings.imported_keys && is_imported_token(token, &settings.prefix) =>
                {
                    Err((token, not_a_key))
                }
                Err(not_a_key) => return Err(self.not_a_key(token, not_a_key, grpc)),
            },
            Err(ExtractError::Missing) => return Err(self.missing(grpc)),
            Err(ExtractError::Malformed(m)) => return Err(self.malformed(m, grpc)),
        };
        let client = self.admit(request, grpc)?;
        let (lookup, digest) = match presented {
            Ok(parsed) => (Lookup::Id(parsed.id()), parsed.digest()),
            // Hashed only once the client is admitted, as a key's secret is.
            Err((token, not_a_key)) => (Lookup::Digest(not_a_key), KeyDigest::of_secret(token)),
        };
        let credential = Credential {
            lookup,
            digest,
            grpc,
            client,
        };
        if let Some(name) = location.sensitive_header()
            && let Some(value) = request.headers_mut().get_mut(name)
        {
            value.set_sensitive(true);
        }
        Ok(credential)
    }

    /// The rejection of a token that is not a key: the b64token error if it is not even a
    /// b64token, as [`extract::bearer_token`] reports it, else why it is not a key.
    fn not_a_key(&self, token: &[u8], error: key::KeyFormatError, grpc: bool) -> Rejection {
        match extract::check_b64token(token) {
            Err(m) => self.malformed(m, grpc),
            Ok(_) => self.malformed(Malformed::NotAKey(error), grpc),
        }
    }

    /// `malformed_api_key` for a token in another format when the store keeps no imported
    /// keys: the answer it gets with imported keys off.
    pub(crate) fn not_imported(&self, not_a_key: KeyFormatError, grpc: bool) -> Rejection {
        self.malformed(Malformed::NotAKey(not_a_key), grpc)
    }

    /// `missing_api_key`, with a reason that names no header the location does not read.
    fn missing(&self, grpc: bool) -> Rejection {
        let rejection = self.reject(ErrorCode::MissingApiKey, grpc);
        match self.settings.location.missing_reason() {
            Some(reason) => rejection.with_reason(reason),
            None => rejection,
        }
    }

    fn malformed(&self, how: Malformed, grpc: bool) -> Rejection {
        self.reject(ErrorCode::MalformedApiKey, grpc)
            .with_reason(how.description())
    }

    /// Whom a failure of `request` would count against, unless its client is already over
    /// its failure budget: then the 429 that spares the hash and the lookup.
    fn admit<B>(&self, request: &Request<B>, grpc: bool) -> Result<Client, Rejection> {
        let Some(failures) = &self.failures else {
            return Ok(Client::Unattributed);
        };
        let proxies = self.settings.trusted_proxies.as_ref();
        let client = Client::of(ClientAddr::resolve(
            request.extensions(),
            request.headers(),
            proxies,
        ));
        failures
            .admit(client)
            .map_err(|Refusal { quota, decision }| {
                self.reject(ErrorCode::RateLimited, grpc)
                    .with_reason("Too many failed authentication attempts from this client")
                    .with_rate_limit(quota, decision)
            })?;
        Ok(client)
    }

    /// Counts a failed authentication (unknown id, wrong secret, revoked or expired key).
    pub(crate) fn failed(&self, client: Client) {
        if let Some(failures) = &self.failures {
            failures.record(client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn grpc_content_types_are_recognised_and_others_are_not() {
        let with = |ct: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::try_from(ct).unwrap());
            is_grpc(&headers)
        };
        assert!(with("application/grpc"));
        assert!(with("application/grpc+proto"));
        assert!(!with("application/json"));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn tokens_of_another_format_within_bounds_may_be_imported_keys() {
        let kg = KeyPrefix::default();
        assert!(is_imported_token(b"sk_live_4eC39HqLyjWDarjtT1zdp7dc", &kg));
        assert!(is_imported_token(&[b'a'; MAX_TOKEN_LEN], &kg));
        assert!(is_imported_token(b"kgx_4eC39HqLyjWDarjtT1zdp7dc", &kg));
    }

    #[test]
    fn short_long_non_b64_and_own_prefix_tokens_are_not_imported_keys() {
        let kg = KeyPrefix::default();
        assert!(!is_imported_token(&[b'a'; MIN_IMPORTED_TOKEN_LEN - 1], &kg));
        assert!(!is_imported_token(&[b'a'; MAX_TOKEN_LEN + 1], &kg));
        assert!(!is_imported_token(b"sk_live_4eC39HqLyjWD,rjtT1zdp7dc", &kg));
        assert!(!is_imported_token(b"kg_4eC39HqLyjWDarjtT1zdp7dc", &kg));
    }
}
