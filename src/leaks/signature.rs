//! [`ReportVerifier`]: the check of a report's ECDSA P-256/SHA-256 signature, over the raw
//! body, with the public key its identifier names.

use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};

use super::PublicKeys;

/// The header naming the key a report is signed with.
pub const KEY_IDENTIFIER_HEADER: &str = "github-public-key-identifier";

/// The header carrying the report's signature: base64 of an ASN.1 DER ECDSA signature.
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";

/// The longest signature header read: a DER P-256 signature is at most 72 bytes, 96 in base64.
const MAX_SIGNATURE_HEADER_LEN: usize = 128;

/// Why a report's signature was refused (401). Nothing was read from the report and no key
/// was touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `Github-Public-Key-Identifier` header, or more than one.
    #[error("the report names no signing key (one Github-Public-Key-Identifier header)")]
    MissingIdentifier,
    /// The identifier names none of the configured public keys.
    #[error("the report's signing key is not one of the configured public keys")]
    UnknownIdentifier,
    /// No `Github-Public-Key-Signature` header, or more than one.
    #[error("the report is not signed (one Github-Public-Key-Signature header)")]
    MissingSignature,
    /// The signature header is not base64 of a DER-encoded ECDSA signature.
    #[error("the report's signature is not base64 of a DER-encoded ECDSA signature")]
    UndecodableSignature,
    /// The signature does not match the body with the named key.
    #[error("the report's signature does not match its body")]
    BadSignature,
}

impl SignatureError {
    /// A short name for logs and the problem's `reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingIdentifier => "missing_key_identifier",
            Self::UnknownIdentifier => "unknown_key_identifier",
            Self::MissingSignature => "missing_signature",
            Self::UndecodableSignature => "undecodable_signature",
            Self::BadSignature => "bad_signature",
        }
    }
}

/// Checks reports' signatures against the current [`PublicKeys`].
///
/// Clones share the keys: keep one and give it fresh keys with
/// [`replace_keys`](Self::replace_keys) (after fetching GitHub's list again, say) while the
/// router serves with another.
///
/// ```
/// use http::HeaderMap;
/// use keygate::leaks::{PublicKeys, ReportVerifier, SignatureError};
///
/// let verifier = ReportVerifier::new(PublicKeys::new());
/// let unsigned = verifier.verify(&HeaderMap::new(), b"[]");
/// assert_eq!(unsigned, Err(SignatureError::MissingIdentifier));
/// ```
#[derive(Clone, Debug)]
pub struct ReportVerifier {
    keys: Arc<RwLock<Arc<PublicKeys>>>,
}

impl ReportVerifier {
    /// A verifier with `keys`.
    pub fn new(keys: PublicKeys) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
        }
    }

    /// Replaces the keys, for this verifier and every clone of it. Reports being checked
    /// finish with the keys they started with.
    pub fn replace_keys(&self, keys: PublicKeys) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    /// The keys in use.
    pub fn keys(&self) -> Arc<PublicKeys> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Checks that `body`, as received, is signed by the key `headers` name.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        self.claimed(headers)?.check(body)
    }

    /// The key and signature `headers` name, before the body is read: a report without
    /// them is refused unread.
    pub(super) fn claimed(&self, headers: &HeaderMap) -> Result<Claimed, SignatureError> {
        let identifier =
            single(headers, KEY_IDENTIFIER_HEADER).ok_or(SignatureError::MissingIdentifier)?;
        let key = self
            .keys()
            .get(identifier)
            .cloned()
            .ok_or(SignatureError::UnknownIdentifier)?;
        let signature =
            single(headers, SIGNATURE_HEADER).ok_or(SignatureError::MissingSignature)?;
        let signature = decode(signature).ok_or(SignatureError::UndecodableSignature)?;
        Ok(Claimed { key, signature })
    }
}

/// A report's claimed signer and signature, to check against its body.
pub(super) struct Claimed {
    key: VerifyingKey,
    signature: DerSignature,
}

impl Claimed {
    /// Whether `body` is what was signed.
    pub(super) fn check(&self, body: &[u8]) -> Result<(), SignatureError> {
        self.key
            .verify(body, &self.signature)
            .map_err(|_| SignatureError::BadSignature)
    }
}

/// The one value of header `name`, as text; `None` when absent, repeated or not text.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok().map(str::trim),
        _ => None,
    }
}

/// The DER signature in base64 `text`.
fn decode(text: &str) -> Option<DerSignature> {
    if text.len() > MAX_SIGNATURE_HEADER_LEN {
        return None;
    }
    let der = STANDARD.decode(text).ok()?;
    DerSignature::from_bytes(&der).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::{EncodePublicKey as _, LineEnding};

    fn signing_key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32].into()).unwrap()
    }

    fn verifier_of(id: &str, key: &SigningKey) -> ReportVerifier {
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        ReportVerifier::new(PublicKeys::new().with_pem(id, &pem).unwrap())
    }

    fn headers(id: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(KEY_IDENTIFIER_HEADER, HeaderValue::from_str(id).unwrap());
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    fn sign(key: &SigningKey, body: &[u8]) -> String {
        let signature: DerSignature = key.sign(body);
        STANDARD.encode(signature.as_bytes())
    }

    #[test]
    fn a_body_signed_by_the_named_key_verifies() {
        let key = signing_key(7);
        let verifier = verifier_of("k1", &key);
        assert_eq!(
            verifier.verify(&headers("k1", &sign(&key, b"[]")), b"[]"),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_does_not_verify() {
        let key = signing_key(7);
        let verifier = verifier_of("k1", &key);
        let signed = headers("k1", &sign(&key, b"[]"));
        assert_eq!(
            verifier.verify(&signed, b"[ ]"),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn a_signature_by_another_key_does_not_verify() {
        let verifier = verifier_of("k1", &signing_key(7));
        let forged = headers("k1", &sign(&signing_key(8), b"[]"));
        assert_eq!(
            verifier.verify(&forged, b"[]"),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn an_unknown_identifier_is_refused_before_the_signature_is_read() {
        let verifier = verifier_of("k1", &signing_key(7));
        assert_eq!(
            verifier.verify(&headers("k2", "not base64!"), b"[]"),
            Err(SignatureError::UnknownIdentifier)
        );
    }

    #[test]
    fn a_signature_that_is_not_base64_der_is_undecodable() {
        let verifier = verifier_of("k1", &signing_key(7));
        for text in ["not base64!", "AAAA", &"A".repeat(200)] {
            assert_eq!(
                verifier.verify(&headers("k1", text), b"[]"),
                Err(SignatureError::UndecodableSignature)
            );
        }
    }

    #[test]
    fn two_signature_headers_are_no_signature() {
        let key = signing_key(7);
        let verifier = verifier_of("k1", &key);
        let mut twice = headers("k1", &sign(&key, b"[]"));
        twice.append(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&sign(&key, b"[]")).unwrap(),
        );
        assert_eq!(
            verifier.verify(&twice, b"[]"),
            Err(SignatureError::MissingSignature)
        );
    }

    #[test]
    fn replaced_keys_are_used_by_every_clone() {
        let old = signing_key(7);
        let new = signing_key(9);
        let verifier = verifier_of("k1", &old);
        let serving = verifier.clone();
        let pem = new
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        verifier.replace_keys(PublicKeys::new().with_pem("k2", &pem).unwrap());
        assert_eq!(
            serving.verify(&headers("k1", &sign(&old, b"[]")), b"[]"),
            Err(SignatureError::UnknownIdentifier)
        );
        assert_eq!(
            serving.verify(&headers("k2", &sign(&new, b"[]")), b"[]"),
            Ok(())
        );
    }
}
