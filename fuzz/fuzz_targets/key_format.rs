//! Any string as a key, id, prefix or digest: never a panic, and a parse only for a string of
//! exactly the key format whose checksum matches.
#![no_main]

use keygate::key::{self, KeyDigest, KeyId, KeyPrefix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let prefix = KeyPrefix::default();
    if let Ok(parsed) = key::parse(data, &prefix) {
        assert_eq!(data.len(), prefix.key_len());
        assert!(data.starts_with("kg_"));
        assert_eq!(&data[3..15], parsed.id().as_str());
        // The same id and secret assemble back into the same key.
        let secret = &data[16..16 + key::SECRET_LEN];
        let again = key::assemble_key(&prefix, parsed.id(), secret).unwrap();
        assert_eq!(again.expose_secret(), data);
    }
    if let Ok(id) = KeyId::new(data) {
        assert_eq!(id.as_str(), data);
    }
    if let Ok(p) = KeyPrefix::new(data) {
        assert_eq!(p.as_str(), data);
        let _ = key::parse(data, &p);
    }
    if let Some(d) = KeyDigest::from_hex(data) {
        assert_eq!(d.to_hex(), data.to_ascii_lowercase());
    }
});
