//! What the Redis test crates share: the server they are given (shared, or held alone by a
//! test that stops it or counts its commands), stopping and starting it (by
//! `scripts/services.sh`), and the fixtures of plan tests.

#![allow(dead_code)]

use std::process::{Command, ExitStatus};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keygate::key::KeyId;
use keygate::plan::{Limit, Plan};
use tokio::sync::{RwLock, RwLockReadGuard};

/// Tests that stop Redis or count its commands hold this exclusively; the others share it.
pub static SERVER: RwLock<()> = RwLock::const_new(());

/// The server's URL (`None`: skipped), held shared: no test stops it meanwhile.
pub async fn server() -> Option<(RwLockReadGuard<'static, ()>, String)> {
    let url = crate::conformance::backend_url("KEYGATE_TEST_REDIS_URL")?;
    Some((SERVER.read().await, url))
}

/// 2025-11-29T12:00:00Z.
pub fn noon() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(20_421 * 86_400 + 43_200)
}

/// `s` parsed as a name of any kind (limit, plan, workspace, scope).
pub fn name<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

/// A plan called `test` of `limits`.
pub fn plan(limits: Vec<Limit>) -> Plan {
    Plan::new(name("test"), limits).unwrap()
}

/// A Redis namespace no other test (nor an earlier run) uses.
pub fn fresh_namespace() -> String {
    format!("keygate-test:{}:", KeyId::random().unwrap())
}

const SERVICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/services.sh");

/// `scripts/services.sh <action>` on the server of `url` (its port, whatever
/// `KEYGATE_REDIS_PORT` says): a test stops only the server it was given.
pub fn services(url: &str, action: &str) -> std::io::Result<ExitStatus> {
    let info = redis::Client::open(url)
        .unwrap()
        .get_connection_info()
        .clone();
    let redis::ConnectionAddr::Tcp(_, port) = info.addr() else {
        panic!("the fault test needs a TCP address, not {:?}", info.addr());
    };
    Command::new(SERVICES)
        .arg(action)
        .env("KEYGATE_REDIS_PORT", port.to_string())
        .status()
}

/// Restarts the Redis of its URL when dropped, even when the test panics.
pub struct RestartRedis(pub String);

impl Drop for RestartRedis {
    fn drop(&mut self) {
        let _ = services(&self.0, "start-redis");
    }
}
