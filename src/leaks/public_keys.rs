//! [`PublicKeys`]: the ECDSA P-256 public keys a reporter signs with, by identifier, parsed
//! from PEM or from GitHub's published key list.

use std::collections::HashMap;
use std::fmt;

use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

/// The longest key identifier accepted (GitHub's are 64 hexadecimal characters).
pub const MAX_KEY_IDENTIFIER_LEN: usize = 256;

/// Why a public key, or a key list, was refused. Nothing was added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPublicKey {
    /// The identifier is empty, longer than [`MAX_KEY_IDENTIFIER_LEN`] or not printable
    /// ASCII (it is compared with an HTTP header's value).
    #[error("invalid key identifier {0:?}: use 1 to 256 printable ASCII characters without spaces")]
    Identifier(String),
    /// The PEM text is not an ECDSA P-256 public key (`-----BEGIN PUBLIC KEY-----`, SPKI).
    #[error("the public key {identifier:?} is not a PEM-encoded ECDSA P-256 public key")]
    Pem {
        /// The identifier the key was given.
        identifier: String,
    },
    /// The key list is not of the form `{"public_keys": [{"key_identifier", "key", …}]}`.
    #[error("the public key list is not of the published form: {0}")]
    List(String),
}

/// The public keys reports are checked with, each named by the identifier the reporter sends
/// in `Github-Public-Key-Identifier`.
///
/// Built from PEM text the operator configures ([`with_pem`](Self::with_pem)), so the service
/// works offline, or from the JSON GitHub publishes at
/// `https://api.github.com/meta/public_keys/secret_scanning`
/// ([`from_github_json`](Self::from_github_json)) when the service fetches it itself; give a
/// fresh set to a running router with [`ReportVerifier::replace_keys`](super::ReportVerifier::replace_keys).
///
/// ```
/// use keygate::leaks::PublicKeys;
///
/// let published = r#"{"public_keys": [{
///     "key_identifier": "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
///     "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0zgmFRnx3c0gGMeEzTNHoRyz+mPV\n0xHarjelsl4VpF2eSN3cCcwkE016EqxCYpCr9fUnIdi8RByj8hcRFOh82w==\n-----END PUBLIC KEY-----\n",
///     "is_current": true
/// }]}"#;
/// let keys = PublicKeys::from_github_json(published).unwrap();
/// assert_eq!(keys.len(), 1);
/// assert!(keys.get("90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a").is_some());
/// assert!(PublicKeys::new().with_pem("k1", "not a key").is_err());
/// ```
#[derive(Clone, Default)]
pub struct PublicKeys {
    keys: HashMap<String, VerifyingKey>,
}

/// GitHub's published list: `{"public_keys": [{"key_identifier", "key", "is_current"}]}`.
#[derive(Deserialize)]
struct Published {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

impl PublicKeys {
    /// No keys: every report is refused until keys are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// These keys and the PEM-encoded P-256 public key `pem` named `identifier` (replacing a
    /// key of the same identifier).
    pub fn with_pem(mut self, identifier: &str, pem: &str) -> Result<Self, InvalidPublicKey> {
        check_identifier(identifier)?;
        let key =
            VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| InvalidPublicKey::Pem {
                identifier: identifier.to_owned(),
            })?;
        self.keys.insert(identifier.to_owned(), key);
        Ok(self)
    }

    /// The keys of GitHub's published list. Every listed key is kept, current or not: a
    /// report signed with a key being retired still verifies while GitHub lists it. One bad
    /// entry refuses the whole list (keep the set you had).
    pub fn from_github_json(json: &str) -> Result<Self, InvalidPublicKey> {
        let published: Published =
            serde_json::from_str(json).map_err(|e| InvalidPublicKey::List(e.to_string()))?;
        published
            .public_keys
            .iter()
            .try_fold(Self::new(), |keys, entry| {
                keys.with_pem(&entry.key_identifier, &entry.key)
            })
    }

    /// The key named `identifier`.
    pub fn get(&self, identifier: &str) -> Option<&VerifyingKey> {
        self.keys.get(identifier)
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The identifiers, in no particular order.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

impl fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.identifiers().collect();
        ids.sort_unstable();
        f.debug_struct("PublicKeys")
            .field("identifiers", &ids)
            .finish()
    }
}

fn check_identifier(identifier: &str) -> Result<(), InvalidPublicKey> {
    let ok = !identifier.is_empty()
        && identifier.len() <= MAX_KEY_IDENTIFIER_LEN
        && identifier.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(InvalidPublicKey::Identifier(identifier.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 public key (PEM, SPKI).
    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0zgmFRnx3c0gGMeEzTNHoRyz+mPV\n0xHarjelsl4VpF2eSN3cCcwkE016EqxCYpCr9fUnIdi8RByj8hcRFOh82w==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn a_pem_key_is_found_by_its_identifier() {
        let keys = PublicKeys::new().with_pem("k1", PEM).unwrap();
        assert!(keys.get("k1").is_some());
        assert!(keys.get("k2").is_none());
    }

    #[test]
    fn text_that_is_not_a_p256_key_is_refused_naming_its_identifier() {
        let refused = PublicKeys::new().with_pem(
            "k1",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        );
        assert_eq!(
            refused.unwrap_err(),
            InvalidPublicKey::Pem {
                identifier: "k1".into()
            }
        );
    }

    #[test]
    fn an_identifier_with_a_space_or_nothing_is_refused() {
        for id in ["", "a b", "é"] {
            assert!(matches!(
                PublicKeys::new().with_pem(id, PEM),
                Err(InvalidPublicKey::Identifier(_))
            ));
        }
    }

    #[test]
    fn every_published_key_is_kept_current_or_not() {
        let json = serde_json::json!({"public_keys": [
            {"key_identifier": "old", "key": PEM, "is_current": false},
            {"key_identifier": "new", "key": PEM, "is_current": true},
        ]})
        .to_string();
        let keys = PublicKeys::from_github_json(&json).unwrap();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn one_bad_published_key_refuses_the_list() {
        let json = serde_json::json!({"public_keys": [
            {"key_identifier": "good", "key": PEM, "is_current": true},
            {"key_identifier": "bad", "key": "nope", "is_current": true},
        ]})
        .to_string();
        assert!(matches!(
            PublicKeys::from_github_json(&json),
            Err(InvalidPublicKey::Pem { .. })
        ));
    }

    #[test]
    fn a_list_of_another_shape_is_refused() {
        assert!(matches!(
            PublicKeys::from_github_json(r#"{"keys": []}"#),
            Err(InvalidPublicKey::List(_))
        ));
    }
}
