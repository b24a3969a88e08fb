//! Any string as a scope or a scope list: never a panic, and what parses prints back to
//! something that parses to the same value.
#![no_main]

use keygate::{Scope, Scopes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    if let Ok(scope) = data.parse::<Scope>() {
        assert_eq!(scope.to_string(), data);
        assert_eq!(scope.to_string().parse::<Scope>().unwrap(), scope);
        assert!(Scope::Admin.grants(&scope));
    }
    if let Ok(scopes) = Scopes::parse_list(data) {
        assert!(!scopes.is_empty());
        assert_eq!(Scopes::parse_list(&scopes.to_string()).unwrap(), scopes);
    }
});
