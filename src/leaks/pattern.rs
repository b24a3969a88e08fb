//! [`token_pattern`]: the regular expression a secret scanner is given to find this
//! service's keys.

use crate::key::{CHECKSUM_LEN, ID_LEN, KeyPrefix, SECRET_LEN};

/// The regular expression matching every key with `prefix` (and, thanks to the fixed prefix
/// and lengths, little else): what to register with a secret scanning partner program.
///
/// ```
/// use keygate::key::KeyPrefix;
///
/// let pattern = keygate::leaks::token_pattern(&KeyPrefix::new("acme").unwrap());
/// assert_eq!(pattern, r"\bacme_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}\b");
/// ```
///
/// The scanner cannot check the CRC-32 checksum of the last 6 characters; the router does,
/// before any lookup, so a look-alike costs nothing.
pub fn token_pattern(prefix: &KeyPrefix) -> String {
    format!(
        r"\b{}_[0-9A-Za-z]{{{ID_LEN}}}_[0-9A-Za-z]{{{}}}\b",
        prefix.as_str(),
        SECRET_LEN + CHECKSUM_LEN
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::generate;

    #[test]
    fn the_pattern_counts_the_characters_of_a_generated_key() {
        let prefix = KeyPrefix::default();
        let key = generate(&prefix).unwrap();
        let parts: Vec<usize> = key
            .plaintext
            .expose_secret()
            .split('_')
            .map(str::len)
            .collect();
        let pattern = token_pattern(&prefix);
        assert_eq!(parts[0], prefix.as_str().len());
        assert!(pattern.starts_with(&format!(r"\b{}_", prefix.as_str())));
        assert!(pattern.contains(&format!("]{{{}}}_", parts[1])));
        assert!(pattern.ends_with(&format!("]{{{}}}\\b", parts[2])));
    }
}
