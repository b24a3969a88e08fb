//! The demo keys every example starts with, and the command line they share.
//!
//! | key | scopes | quota |
//! |---|---|---|
//! | `production-backend` | `admin` | the layer's default (20 at once, 10/s) |
//! | `ci-pipeline` | `read:all,write:all` | the layer's default |
//! | `local-dev` | `read:all` | 5 at once, then 1/s, so a rate-limit answer is easy to see |
//!
//! All three belong to the `default` workspace. Each example prints them as `key <name> <scopes> <plaintext>` lines, which
//! `scripts/smoke-quickstart.sh` and `scripts/clients-test.sh` read back.

// Each example uses the part it needs.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::num::NonZeroU32;

use keygate::key::KeyPrefix;
use keygate::{KeyManager, MemoryKeyStore, NewKey, Quota};

/// A demo key as printed at start-up.
pub struct DemoKey {
    /// The key's name.
    pub name: String,
    /// Its scopes, joined by `,`.
    pub scopes: String,
    /// The plaintext, shown this once.
    pub plaintext: String,
}

/// A store holding the three demo keys, and their plaintexts.
pub struct DemoKeys {
    /// The store, issuing `demo_…` keys: give it to the layer, which takes the prefix from it.
    pub store: MemoryKeyStore,
    /// The three keys, in the order of the table above.
    pub keys: Vec<DemoKey>,
}

fn n(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("non-zero constant")
}

/// The layer's default quota in the examples: a burst of 20, then 10 requests per second.
pub fn default_quota() -> Quota {
    Quota::per_second(n(10)).allow_burst(n(20))
}

/// Creates the three demo keys, all in the `default` workspace, in a new in-memory store.
pub async fn create() -> DemoKeys {
    let prefix = KeyPrefix::new("demo").expect("valid prefix");
    let store = MemoryKeyStore::with_prefix(prefix);
    let plans: [(&str, &str, Option<Quota>); 3] = [
        ("production-backend", "admin", None),
        ("ci-pipeline", "read:all,write:all", None),
        (
            "local-dev",
            "read:all",
            Some(Quota::per_second(n(1)).allow_burst(n(5))),
        ),
    ];
    let mut keys = Vec::new();
    for (name, scopes, quota) in plans {
        let mut new = NewKey::new(
            name.parse().expect("valid name"),
            scopes.parse().expect("valid scopes"),
        );
        if let Some(quota) = quota {
            new = new.quota(quota);
        }
        let created = store
            .create(new)
            .await
            .expect("the in-memory store accepts demo keys");
        keys.push(DemoKey {
            name: name.to_owned(),
            scopes: created.info.scopes.to_string(),
            plaintext: created.plaintext.expose_secret().to_owned(),
        });
    }
    DemoKeys { store, keys }
}

/// The plaintext of the key called `name` (empty if there is none).
pub fn plaintext(keys: &[DemoKey], name: &str) -> String {
    keys.iter()
        .find(|k| k.name == name)
        .map(|k| k.plaintext.clone())
        .unwrap_or_default()
}

/// Prints the keys as `key <name> <scopes> <plaintext>` lines.
pub fn print(keys: &[DemoKey]) {
    for key in keys {
        println!("key {} {} {}", key.name, key.scopes, key.plaintext);
    }
}

/// Reads `--addr HOST:PORT` (else `default`); prints usage for `--help`.
pub fn parse_addr(example: &str, default: SocketAddr) -> Result<SocketAddr, String> {
    let usage = format!("usage: {example} [--addr HOST:PORT]   (default {default})");
    let mut args = std::env::args().skip(1);
    let mut addr = default;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let value = args
                    .next()
                    .ok_or_else(|| format!("--addr needs a value, e.g. --addr {default}"))?;
                addr = value
                    .parse()
                    .map_err(|e| format!("--addr {value:?} is not HOST:PORT ({e})"))?;
            }
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; {usage}")),
        }
    }
    Ok(addr)
}

/// Binds `--addr` (or `default`), or exits with a one-line error.
pub async fn listen(example: &str, default: SocketAddr) -> (tokio::net::TcpListener, SocketAddr) {
    let addr = match parse_addr(example, default) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => (listener, addr),
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
}
