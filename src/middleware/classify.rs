//! Stage 1, classification: everything decided from the request alone, before any backend is
//! asked. In order: the protocol of the answer (gRPC or HTTP), the transport (HTTPS when
//! required), the path (refused when routers could read it two ways), the credential (from
//! the [`KeyLocation`](crate::KeyLocation), `Authorization: Bearer` by default, then the key
//! format and checksum), and the client's failure budget. A request that passes leaves with its key id, the digest of its secret and the
//! client its failures count against.

use http::Request;
use http::header::CONTENT_TYPE;

use crate::code::ErrorCode;
use crate::key::{self, KeyDigest, KeyId};
use crate::limit::{Client, Refusal};
use crate::policy;
use crate::rejection::Rejection;

use super::client_addr::ClientAddr;
use super::extract::{self, ExtractError, Malformed};
use super::pipeline::Pipeline;
use super::transport;

/// A request's credential, once it is known to be a well-formed key of this service.
pub(crate) struct Credential {
    pub(crate) id: KeyId,
    /// SHA-256 of the presented secret.
    pub(crate) digest: KeyDigest,
    /// Whether the answer must be a gRPC status.
    pub(crate) grpc: bool,
    /// Whom a failure of this request counts against (when failures are limited).
    pub(crate) client: Client,
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
        let parsed = match location.token(request.headers()) {
            // A key's alphabet is narrower than a b64token's: a token that parses as a key
            // needs no character check of its own.
            Ok(token) => match key::parse_bytes(token, &settings.prefix) {
                Ok(parsed) => parsed,
                Err(not_a_key) => return Err(self.not_a_key(token, not_a_key, grpc)),
            },
            Err(ExtractError::Missing) => return Err(self.missing(grpc)),
            Err(ExtractError::Malformed(m)) => return Err(self.malformed(m, grpc)),
        };
        let client = self.admit(request, grpc)?;
        let credential = Credential {
            id: parsed.id(),
            digest: parsed.digest(),
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
        let client = Client::of(ClientAddr::of(request.extensions()));
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
}
