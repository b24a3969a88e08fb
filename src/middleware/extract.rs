//! Extracting the token from `Authorization: Bearer <token>` (RFC 6750 §2.1).
//!
//! The scheme is matched in any case and followed by one or more spaces; the token must be a
//! `b64token` (letters, digits, `-._~+/`, then optional trailing `=`). No `Authorization`
//! header is *missing*; anything else that is not exactly one such credential is *malformed*:
//! another scheme, a missing or empty token, internal whitespace, an illegal character, or
//! several `Authorization` headers.
//!
//! ```
//! use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
//! use keygate::extract::{bearer_token, ExtractError, Malformed};
//!
//! let mut headers = HeaderMap::new();
//! assert_eq!(bearer_token(&headers), Err(ExtractError::Missing));
//! headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer   abc.DEF_1=="));
//! assert_eq!(bearer_token(&headers), Ok("abc.DEF_1=="));
//! headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
//! assert_eq!(bearer_token(&headers), Err(ExtractError::Malformed(Malformed::NotBearer)));
//! ```

use std::fmt;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::key::KeyFormatError;

/// Longest token considered; anything longer is malformed without being scanned further.
pub const MAX_TOKEN_LEN: usize = 1024;

/// Why no token could be taken from a request (from `Authorization: Bearer`, or from the
/// [`KeyLocation`](crate::KeyLocation) the layer is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// No credential where the location looks: for Bearer, no `Authorization` header at all.
    #[error("no API key was sent")]
    Missing,
    /// A credential that is not one well-formed token: for Bearer, an `Authorization` header
    /// that is not one well-formed Bearer credential.
    #[error("{0}")]
    Malformed(Malformed),
}

/// How a credential is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// More than one `Authorization` header.
    MultipleHeaders,
    /// A scheme other than `Bearer`.
    NotBearer,
    /// `Bearer` with no token after it.
    MissingToken,
    /// Whitespace other than the spaces after the scheme (tabs, spaces inside the token).
    Whitespace,
    /// A character outside the RFC 6750 b64token alphabet.
    IllegalCharacter,
    /// A token longer than [`MAX_TOKEN_LEN`].
    TooLong,
    /// A b64token that is not a key of this service (wrong prefix, length, alphabet or
    /// checksum).
    NotAKey(KeyFormatError),
    /// A key in the configured header and another credential beside it (an `Authorization`
    /// header, or the header's name spelled with `_` for `-`).
    AmbiguousCredentials,
    /// More than one of the configured API key header.
    MultipleKeyHeaders,
    /// An empty key (the configured header, or a custom extractor's answer).
    EmptyKey,
    /// A custom extractor that panicked.
    Unreadable,
}

impl Malformed {
    /// A one-line description, safe to send to the client (it never quotes the header).
    pub fn description(self) -> &'static str {
        match self {
            Malformed::MultipleHeaders => "More than one Authorization header was sent",
            Malformed::NotBearer => "The Authorization header does not use the Bearer scheme",
            Malformed::MissingToken => "The Authorization header has no token after Bearer",
            Malformed::Whitespace => "The token contains whitespace",
            Malformed::IllegalCharacter => "The token contains a character that is not allowed",
            Malformed::TooLong => "The token is too long",
            Malformed::NotAKey(e) => e.description(),
            Malformed::AmbiguousCredentials => {
                "Ambiguous credentials: the request carries an API key in more than one place"
            }
            Malformed::MultipleKeyHeaders => "More than one API key header was sent",
            Malformed::EmptyKey => "The API key is empty",
            Malformed::Unreadable => "The API key could not be read from the request",
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for Malformed {}

/// Bytes allowed in an RFC 6750 `b64token` (before its trailing `=`), as a lookup table.
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

fn is_b64token_char(b: u8) -> bool {
    B64TOKEN[b as usize]
}

/// Takes the bearer token from the request headers.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ExtractError> {
    check_b64token(bearer_bytes(headers)?).map_err(ExtractError::Malformed)
}

/// Parses one `Authorization` field value as `Bearer 1*SP b64token`.
pub fn parse_credentials(value: &[u8]) -> Result<&str, Malformed> {
    check_b64token(bearer_shape(value)?)
}

/// The one `Authorization` header's token, its shape checked (scheme, spaces, length) but not
/// its characters: for a caller that checks them more strictly itself, and otherwise falls
/// back to [`bearer_token`] for the precise error.
pub(crate) fn bearer_bytes(headers: &HeaderMap) -> Result<&[u8], ExtractError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(ExtractError::Missing)?;
    if values.next().is_some() {
        return Err(ExtractError::Malformed(Malformed::MultipleHeaders));
    }
    bearer_shape(value.as_bytes()).map_err(ExtractError::Malformed)
}

/// `Bearer 1*SP token`: the token, not yet checked character by character.
fn bearer_shape(value: &[u8]) -> Result<&[u8], Malformed> {
    // Optional whitespace around a field value is not part of it (RFC 9110 §5.5).
    let value = value.trim_ascii();
    const SCHEME: &[u8] = b"bearer";
    if value.len() < SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return Err(Malformed::NotBearer);
    }
    let rest = &value[SCHEME.len()..];
    match rest.first() {
        None => return Err(Malformed::MissingToken),
        Some(b' ') => {}
        Some(b'\t') => return Err(Malformed::Whitespace),
        Some(_) => return Err(Malformed::NotBearer),
    }
    let token = rest.trim_ascii_start();
    if token.is_empty() {
        return Err(Malformed::MissingToken);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(Malformed::TooLong);
    }
    if rest[..rest.len() - token.len()].contains(&b'\t') {
        return Err(Malformed::Whitespace);
    }
    Ok(token)
}

/// `token` as a `b64token`: letters, digits, `-._~+/`, then optional trailing `=`.
pub(crate) fn check_b64token(token: &[u8]) -> Result<&str, Malformed> {
    let body_len = token.len() - token.iter().rev().take_while(|&&b| b == b'=').count();
    for &b in &token[..body_len] {
        if !is_b64token_char(b) {
            return Err(if b.is_ascii_whitespace() {
                Malformed::Whitespace
            } else {
                Malformed::IllegalCharacter
            });
        }
    }
    if body_len == 0 {
        return Err(Malformed::IllegalCharacter);
    }
    // Every byte is ASCII by now.
    std::str::from_utf8(token).map_err(|_| Malformed::IllegalCharacter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn one(value: &'static [u8]) -> Result<String, ExtractError> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        bearer_token(&headers).map(str::to_owned)
    }

    fn malformed(m: Malformed) -> Result<String, ExtractError> {
        Err(ExtractError::Malformed(m))
    }

    #[test]
    fn scheme_is_matched_in_any_case() {
        for v in [
            &b"Bearer abc"[..],
            b"bearer abc",
            b"BEARER abc",
            b"bEaReR abc",
        ] {
            assert_eq!(one(v), Ok("abc".into()));
        }
    }

    #[test]
    fn one_or_more_spaces_may_follow_the_scheme() {
        assert_eq!(one(b"Bearer     abc"), Ok("abc".into()));
    }

    #[test]
    fn the_whole_b64token_alphabet_is_accepted() {
        assert_eq!(one(b"Bearer aZ09-._~+/"), Ok("aZ09-._~+/".into()));
    }

    #[test]
    fn trailing_equals_signs_are_part_of_the_token() {
        assert_eq!(one(b"Bearer abc=="), Ok("abc==".into()));
    }

    #[test]
    fn equals_sign_inside_the_token_is_illegal() {
        assert_eq!(one(b"Bearer ab=c"), malformed(Malformed::IllegalCharacter));
        assert_eq!(one(b"Bearer ==="), malformed(Malformed::IllegalCharacter));
    }

    #[test]
    fn bearer_without_a_token_is_malformed() {
        assert_eq!(one(b"Bearer"), malformed(Malformed::MissingToken));
        assert_eq!(one(b"Bearer    "), malformed(Malformed::MissingToken));
    }

    #[test]
    fn internal_whitespace_is_malformed() {
        assert_eq!(one(b"Bearer abc def"), malformed(Malformed::Whitespace));
        assert_eq!(one(b"Bearer\tabc"), malformed(Malformed::Whitespace));
        assert_eq!(one(b"Bearer abc\tdef"), malformed(Malformed::Whitespace));
    }

    #[test]
    fn other_schemes_are_malformed() {
        assert_eq!(one(b"Basic dXNlcjpwYXNz"), malformed(Malformed::NotBearer));
        assert_eq!(one(b"Bearerabc"), malformed(Malformed::NotBearer));
        assert_eq!(one(b"abc"), malformed(Malformed::NotBearer));
        assert_eq!(one(b""), malformed(Malformed::NotBearer));
    }

    #[test]
    fn illegal_characters_are_malformed() {
        assert_eq!(one(b"Bearer a,b"), malformed(Malformed::IllegalCharacter));
        assert_eq!(
            one(b"Bearer \"abc\""),
            malformed(Malformed::IllegalCharacter)
        );
        assert_eq!(
            one(b"Bearer abc\xff"),
            malformed(Malformed::IllegalCharacter)
        );
    }

    #[test]
    fn two_authorization_headers_are_malformed() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert_eq!(
            bearer_token(&headers),
            Err(ExtractError::Malformed(Malformed::MultipleHeaders))
        );
    }

    #[test]
    fn a_very_long_token_is_malformed() {
        let long = format!("Bearer {}", "a".repeat(64 * 1024));
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&long).unwrap());
        assert_eq!(
            bearer_token(&headers),
            Err(ExtractError::Malformed(Malformed::TooLong))
        );
    }
}
