//! Stopping and starting the Redis a fault test was given (by `scripts/services.sh`).

use std::process::{Command, ExitStatus};

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
