//! API keys: the format, generation from the OS CSPRNG, parsing and digests.
//!
//! A key reads `<prefix>_<id>_<secret><checksum>`:
//!
//! | part | length | alphabet | role |
//! |---|---|---|---|
//! | prefix | 1–16 | `a-z0-9`, starting with a letter | names the issuer (`acme`), lets secret scanners spot leaks |
//! | id | 12 | base62 | public lookup id ([`KeyId`]) |
//! | secret | 43 | base62 | 256 bits from the OS CSPRNG; only its SHA-256 digest is stored |
//! | checksum | 6 | base62 | CRC-32 of everything before it: a typo is caught without a lookup |
//!
//! Only the secret part is hashed (43 bytes: one SHA-256 block), so verifying a key costs one
//! compression and a constant-time compare of two 32-byte digests.
//!
//! ```
//! use keygate::key::{generate, parse, KeyPrefix};
//!
//! let prefix = KeyPrefix::new("acme").unwrap();
//! let key = generate(&prefix).unwrap();
//! let parsed = parse(key.plaintext.expose_secret(), &prefix).unwrap();
//! assert_eq!(parsed.id(), key.id);
//! assert!(parsed.digest().ct_eq(&key.digest));
//!
//! // One changed character is caught by the checksum, before any store is asked.
//! let mut typo = key.plaintext.expose_secret().to_owned();
//! let last = typo.pop().unwrap();
//! typo.push(if last == 'a' { 'b' } else { 'a' });
//! assert!(parse(&typo, &prefix).is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Length of the public id part of a key.
pub const ID_LEN: usize = 12;
/// Length of the secret part of a key (43 base62 characters carry 256 bits).
pub const SECRET_LEN: usize = 43;
/// Length of the checksum part of a key.
pub const CHECKSUM_LEN: usize = 6;
/// Longest prefix accepted by [`KeyPrefix::new`].
pub const MAX_PREFIX_LEN: usize = 16;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Maps an ASCII byte to its base62 value, or `0xFF` for any other byte.
const BASE62_VALUE: [u8; 256] = {
    let mut table = [0xFF_u8; 256];
    let mut i = 0;
    while i < 62 {
        table[BASE62[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn is_base62(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| BASE62_VALUE[b as usize] != 0xFF)
}

/// Why a string is not a well-formed key.
///
/// Every variant is answered with `401 malformed_api_key`: none of them costs a store lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFormatError {
    /// The key does not start with the expected `<prefix>_`.
    WrongPrefix,
    /// The key is too short or too long.
    WrongLength,
    /// The separators are not where the format puts them.
    BadLayout,
    /// A character outside the base62 alphabet.
    InvalidCharacter,
    /// The checksum does not match: a typo, a truncated copy or random garbage.
    ChecksumMismatch,
}

impl KeyFormatError {
    /// A one-line description, safe to send to the client.
    pub fn description(self) -> &'static str {
        match self {
            KeyFormatError::WrongPrefix => "The token is not an API key of this service",
            KeyFormatError::WrongLength => {
                "The API key has the wrong length (was it copied completely?)"
            }
            KeyFormatError::BadLayout => "The API key is not of the form <prefix>_<id>_<secret>",
            KeyFormatError::InvalidCharacter => {
                "The API key contains a character outside the key alphabet"
            }
            KeyFormatError::ChecksumMismatch => {
                "The API key's checksum does not match (was it copied correctly?)"
            }
        }
    }
}

impl fmt::Display for KeyFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for KeyFormatError {}

/// Why a string is not a valid key prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid key prefix {0:?}: use 1 to 16 lowercase letters or digits, starting with a letter"
)]
pub struct InvalidPrefix(String);

/// The issuer part of a key, e.g. `acme` in `acme_…`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyPrefix(Box<str>);

impl KeyPrefix {
    /// Validates a prefix: 1 to 16 characters of `a-z0-9`, starting with a letter.
    pub fn new(prefix: &str) -> Result<Self, InvalidPrefix> {
        let bytes = prefix.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= MAX_PREFIX_LEN
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(prefix.into()))
        } else {
            Err(InvalidPrefix(prefix.chars().take(40).collect()))
        }
    }

    /// The prefix as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Total length of a key with this prefix.
    pub fn key_len(&self) -> usize {
        self.0.len() + 1 + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN
    }
}

impl Default for KeyPrefix {
    /// The prefix `kg`.
    fn default() -> Self {
        Self("kg".into())
    }
}

impl fmt::Debug for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyPrefix").field(&&*self.0).finish()
    }
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyPrefix {
    type Err = InvalidPrefix;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The public lookup id of a key: 12 base62 characters, stored inline (`Copy`, no allocation).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyId([u8; ID_LEN]);

/// Why a string is not a key id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key id {0:?}: a key id is 12 base62 characters (0-9, A-Z, a-z)")]
pub struct InvalidKeyId(String);

impl KeyId {
    /// `000000000000`, for records that stand for no key.
    pub(crate) const ZERO: KeyId = KeyId(*b"000000000000");

    /// Parses a key id (12 base62 characters).
    pub fn new(id: &str) -> Result<Self, InvalidKeyId> {
        let bytes = id.as_bytes();
        match <[u8; ID_LEN]>::try_from(bytes) {
            Ok(array) if is_base62(&array) => Ok(Self(array)),
            _ => Err(InvalidKeyId(id.chars().take(40).collect())),
        }
    }

    /// Draws a fresh random id from the OS CSPRNG.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut id = [0_u8; ID_LEN];
        fill_base62(&mut id)?;
        Ok(Self(id))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        // Every constructor checks that the bytes are base62, hence ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }
}

impl std::hash::Hash for KeyId {
    /// Two fixed-width writes: the id is random already, so a fast hasher can use them as they
    /// are (see the crate's sharded maps), and SipHash still sees every byte.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [a, b, c, d, e, f, g, h, i, j, k, l] = self.0;
        state.write_u64(u64::from_le_bytes([a, b, c, d, e, f, g, h]));
        state.write_u32(u32::from_le_bytes([i, j, k, l]));
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyId {
    type Err = InvalidKeyId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The SHA-256 digest of a key's secret part: the only form in which a secret is kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// Wraps 32 raw digest bytes (e.g. read back from a database).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Hashes a secret part.
    pub fn of_secret(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hexadecimal form (64 characters).
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
        out
    }

    /// Parses the hexadecimal form written by [`KeyDigest::to_hex`].
    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0_u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Self(out))
    }

    /// Compares two digests in constant time.
    ///
    /// The digests are folded as four 64-bit words with XOR/OR (no early exit), then the
    /// folded word is compared with `subtle`: the time does not depend on where they differ.
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        let mut acc = 0_u64;
        for (a, b) in self.0.chunks_exact(8).zip(other.0.chunks_exact(8)) {
            let a = u64::from_ne_bytes(a.try_into().unwrap_or_default());
            let b = u64::from_ne_bytes(b.try_into().unwrap_or_default());
            acc |= a ^ b;
        }
        acc.ct_eq(&0).into()
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        write!(f, "KeyDigest(sha256:{}…)", &hex[..8])
    }
}

/// A plaintext key. It is shown once, at creation; `Debug` and `Display` never print it, and
/// its memory is zeroed when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a plaintext key (e.g. one read from a command line), without checking it.
    pub fn from_plaintext(plaintext: impl Into<String>) -> Self {
        Self(plaintext.into())
    }

    /// The plaintext. Show it to the key's owner once; never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl Drop for ApiKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted api key>")
    }
}

/// A freshly generated key: the plaintext (show it once), its id and the digest to store.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The plaintext key.
    pub plaintext: ApiKey,
    /// Its public id.
    pub id: KeyId,
    /// The SHA-256 digest of its secret part.
    pub digest: KeyDigest,
}

/// Fills `out` with uniformly distributed base62 characters from the OS CSPRNG.
fn fill_base62(out: &mut [u8]) -> Result<(), getrandom::Error> {
    let mut pool = [0_u8; 64];
    let mut filled = 0;
    while filled < out.len() {
        getrandom::fill(&mut pool)?;
        for &b in &pool {
            // 248 = 4 × 62: rejecting bytes at or above it keeps every character equally likely.
            if b < 248 {
                out[filled] = BASE62[(b % 62) as usize];
                filled += 1;
                if filled == out.len() {
                    break;
                }
            }
        }
    }
    pool.zeroize();
    Ok(())
}

fn checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut value = u64::from(crc32fast::hash(body));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// Builds a key from its parts. The id and secret must be base62.
fn assemble(prefix: &KeyPrefix, id: &KeyId, secret: &[u8]) -> ApiKey {
    let mut key = String::with_capacity(prefix.key_len());
    key.push_str(prefix.as_str());
    key.push('_');
    key.push_str(id.as_str());
    key.push('_');
    key.push_str(std::str::from_utf8(secret).unwrap_or_default());
    let sum = checksum(key.as_bytes());
    key.push_str(std::str::from_utf8(&sum).unwrap_or_default());
    ApiKey(key)
}

/// Builds the plaintext key for a given id and secret (43 base62 characters), adding the
/// checksum: for importing keys issued elsewhere and for tests.
pub fn assemble_key(prefix: &KeyPrefix, id: KeyId, secret: &str) -> Result<ApiKey, KeyFormatError> {
    let bytes = secret.as_bytes();
    if bytes.len() != SECRET_LEN {
        return Err(KeyFormatError::WrongLength);
    }
    if !is_base62(bytes) {
        return Err(KeyFormatError::InvalidCharacter);
    }
    Ok(assemble(prefix, &id, bytes))
}

/// Generates a key with a fresh id.
pub fn generate(prefix: &KeyPrefix) -> Result<GeneratedKey, getrandom::Error> {
    generate_for(prefix, KeyId::random()?)
}

/// Generates a new secret for an existing id (rotation).
pub fn generate_for(prefix: &KeyPrefix, id: KeyId) -> Result<GeneratedKey, getrandom::Error> {
    let mut secret = [0_u8; SECRET_LEN];
    fill_base62(&mut secret)?;
    let digest = KeyDigest::of_secret(&secret);
    let plaintext = assemble(prefix, &id, &secret);
    secret.zeroize();
    Ok(GeneratedKey {
        plaintext,
        id,
        digest,
    })
}

/// A well-formed key, borrowed from the header it came in.
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    id: KeyId,
    secret: &'a [u8],
}

impl ParsedKey<'_> {
    /// The public id, for the store lookup.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The SHA-256 digest of the secret part.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest::of_secret(self.secret)
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Parses a key, checking prefix, layout, alphabet and checksum. Touches no store.
pub fn parse<'a>(token: &'a str, prefix: &KeyPrefix) -> Result<ParsedKey<'a>, KeyFormatError> {
    parse_bytes(token.as_bytes(), prefix)
}

/// [`parse`] of raw bytes (a key is ASCII; anything else fails its alphabet check).
pub(crate) fn parse_bytes<'a>(
    bytes: &'a [u8],
    prefix: &KeyPrefix,
) -> Result<ParsedKey<'a>, KeyFormatError> {
    let p = prefix.as_str().as_bytes();
    if bytes.len() != prefix.key_len() {
        return Err(if bytes.starts_with(p) {
            KeyFormatError::WrongLength
        } else {
            KeyFormatError::WrongPrefix
        });
    }
    if !bytes.starts_with(p) || bytes[p.len()] != b'_' {
        return Err(KeyFormatError::WrongPrefix);
    }
    let id_start = p.len() + 1;
    let id_end = id_start + ID_LEN;
    if bytes[id_end] != b'_' {
        return Err(KeyFormatError::BadLayout);
    }
    let secret_start = id_end + 1;
    let secret_end = secret_start + SECRET_LEN;
    let id_bytes = &bytes[id_start..id_end];
    let rest = &bytes[secret_start..];
    if !is_base62(id_bytes) || !is_base62(rest) {
        return Err(KeyFormatError::InvalidCharacter);
    }
    if checksum(&bytes[..secret_end]) != bytes[secret_end..] {
        return Err(KeyFormatError::ChecksumMismatch);
    }
    let mut id = [0_u8; ID_LEN];
    id.copy_from_slice(id_bytes);
    Ok(ParsedKey {
        id: KeyId(id),
        secret: &bytes[secret_start..secret_end],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prefix() -> KeyPrefix {
        KeyPrefix::new("acme").unwrap()
    }

    #[test]
    fn generated_key_has_the_documented_layout() {
        let key = generate(&prefix()).unwrap();
        let text = key.plaintext.expose_secret();
        assert_eq!(text.len(), prefix().key_len());
        assert!(text.starts_with("acme_"));
        assert_eq!(&text[5..17], key.id.as_str());
        assert_eq!(&text[17..18], "_");
    }

    #[test]
    fn secret_part_fits_one_sha256_block() {
        const { assert!(SECRET_LEN <= 55) };
        // 43 base62 characters carry at least 256 bits.
        let bits = SECRET_LEN as f64 * 62_f64.log2();
        assert!(bits >= 256.0, "{bits} bits");
    }

    #[test]
    fn two_generated_keys_differ() {
        let a = generate(&prefix()).unwrap();
        let b = generate(&prefix()).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.digest, b.digest);
    }

    #[test]
    fn key_of_another_prefix_is_rejected() {
        let other = generate(&KeyPrefix::new("other").unwrap()).unwrap();
        assert_eq!(
            parse(other.plaintext.expose_secret(), &prefix()).unwrap_err(),
            KeyFormatError::WrongPrefix
        );
    }

    #[test]
    fn truncated_key_is_rejected_for_its_length() {
        let key = generate(&prefix()).unwrap();
        let text = key.plaintext.expose_secret();
        assert_eq!(
            parse(&text[..text.len() - 1], &prefix()).unwrap_err(),
            KeyFormatError::WrongLength
        );
    }

    #[test]
    fn non_base62_character_is_rejected() {
        let key = generate(&prefix()).unwrap();
        let mut text = key.plaintext.expose_secret().to_owned();
        text.replace_range(20..21, "-");
        assert_eq!(
            parse(&text, &prefix()).unwrap_err(),
            KeyFormatError::InvalidCharacter
        );
    }

    #[test]
    fn debug_and_display_of_a_plaintext_are_redacted() {
        let key = generate(&prefix()).unwrap();
        let secret = key.plaintext.expose_secret().to_owned();
        for shown in [format!("{key:?}"), format!("{}", key.plaintext)] {
            assert!(!shown.contains(&secret));
            assert!(!shown.contains(&secret[17..]));
        }
    }

    #[test]
    fn assembled_key_parses_back_to_its_parts() {
        let id = KeyId::new("AbCdEfGhIjKl").unwrap();
        let secret = "s".repeat(SECRET_LEN);
        let key = assemble_key(&prefix(), id, &secret).unwrap();
        let parsed = parse(key.expose_secret(), &prefix()).unwrap();
        assert_eq!(parsed.id(), id);
        assert!(
            parsed
                .digest()
                .ct_eq(&KeyDigest::of_secret(secret.as_bytes()))
        );
        assert_eq!(
            assemble_key(&prefix(), id, "short").unwrap_err(),
            KeyFormatError::WrongLength
        );
        let bad = "-".repeat(SECRET_LEN);
        assert_eq!(
            assemble_key(&prefix(), id, &bad).unwrap_err(),
            KeyFormatError::InvalidCharacter
        );
    }

    #[test]
    fn digest_hex_round_trips() {
        let key = generate(&prefix()).unwrap();
        assert_eq!(KeyDigest::from_hex(&key.digest.to_hex()), Some(key.digest));
        assert_eq!(KeyDigest::from_hex("zz"), None);
    }

    #[test]
    fn prefix_rules_are_enforced() {
        assert!(KeyPrefix::new("acme2").is_ok());
        for bad in ["", "Acme", "2acme", "ac_me", "a-b", "abcdefghijklmnopq"] {
            assert!(KeyPrefix::new(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn constant_time_compare_tells_equal_from_different() {
        let a = KeyDigest::from_bytes([7; 32]);
        let mut last = [7; 32];
        last[31] = 8;
        assert!(a.ct_eq(&KeyDigest::from_bytes([7; 32])));
        assert!(!a.ct_eq(&KeyDigest::from_bytes(last)));
    }

    proptest! {
        #[test]
        fn generated_keys_round_trip_through_the_parser(p in "[a-z][a-z0-9]{0,15}") {
            let prefix = KeyPrefix::new(&p).unwrap();
            let key = generate(&prefix).unwrap();
            let parsed = parse(key.plaintext.expose_secret(), &prefix).unwrap();
            prop_assert_eq!(parsed.id(), key.id);
            prop_assert!(parsed.digest().ct_eq(&key.digest));
        }

        #[test]
        fn any_single_character_change_is_rejected(pos in 0_usize..66, replacement in 0_usize..62) {
            let prefix = prefix();
            let key = generate(&prefix).unwrap();
            let mut bytes = key.plaintext.expose_secret().as_bytes().to_vec();
            let pos = pos % bytes.len();
            let new = BASE62[replacement];
            prop_assume!(bytes[pos] != new);
            bytes[pos] = new;
            let text = String::from_utf8(bytes).unwrap();
            prop_assert!(parse(&text, &prefix).is_err());
        }

        #[test]
        fn random_strings_never_parse(s in "\\PC{0,80}") {
            prop_assert!(parse(&s, &prefix()).is_err());
        }

        #[test]
        fn random_well_shaped_keys_fail_the_checksum(id in "[0-9A-Za-z]{12}", rest in "[0-9A-Za-z]{49}") {
            let text = format!("acme_{id}_{rest}");
            // A random 6-character tail matches the CRC-32 with odds of about 2^-35.
            prop_assert_eq!(parse(&text, &prefix()).unwrap_err(), KeyFormatError::ChecksumMismatch);
        }
    }
}
