//! Any bytes as an `Authorization` value: never a panic, and a token only when it is one
//! well-formed RFC 6750 b64token.
#![no_main]

use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use keygate::extract::{bearer_token, parse_credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = parse_credentials(data) {
        assert!(!token.is_empty());
        let body = token.trim_end_matches('=');
        assert!(!body.is_empty());
        assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        let single = bearer_token(&headers).map(str::to_owned);
        assert_eq!(single.as_deref().ok(), parse_credentials(data).ok());
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(bearer_token(&headers).is_err(), "two headers are never accepted");
    }
});
