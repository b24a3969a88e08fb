//! The command line, as clap reads it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use keygate::key::{KeyId, KeyPrefix};
use keygate::{KeyName, Scope};

/// Manage keygate API keys: create, list, edit scopes, rotate, revoke.
///
/// Exit codes: 0 done; 1 no such key, or the key's state forbids the change (revoked);
/// 2 usage error or invalid input; 3 the key store could not be opened or reached.
#[derive(Debug, Parser)]
#[command(name = "keygate", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The key database: a SQLite file path (or sqlite://PATH); postgres://… needs the
    /// `postgres` feature.
    #[arg(long, global = true, env = "KEYGATE_DB", default_value = "keygate.db")]
    pub db: String,
    /// Prefix of the keys issued (create, rotate): use the one the service's layer expects.
    #[arg(long, global = true, env = "KEYGATE_PREFIX", default_value = "kg")]
    pub prefix: KeyPrefix,
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key and print it once: it cannot be shown again.
    Create {
        /// Descriptive name: lowercase letters, digits, dashes (production-backend).
        #[arg(long)]
        name: KeyName,
        /// A scope to grant (repeat for more): read:all, write:all, admin, read:<resource>…
        #[arg(long = "scope", required = true)]
        scopes: Vec<Scope>,
        /// Expire after this long (90d, 12h, 30m).
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<Duration>,
    },
    /// List every key (never secrets), oldest first.
    List,
    /// Show one key.
    Show {
        /// The key id (the 12 characters after the prefix).
        id: KeyId,
    },
    /// Revoke a key: from now on it is refused with revoked_api_key.
    Revoke {
        /// The key id.
        id: KeyId,
    },
    /// Give a key a new secret (same id) and print it once; the old one keeps working for
    /// the grace period.
    Rotate {
        /// The key id.
        id: KeyId,
        /// How long the old secret keeps working (0s for not at all).
        #[arg(long, value_parser = parse_duration, default_value = "24h")]
        grace: Duration,
    },
    /// Add scopes to a key, or remove them.
    Scopes {
        /// The key id.
        id: KeyId,
        /// A scope to add (repeatable).
        #[arg(long = "add")]
        add: Vec<Scope>,
        /// A scope to remove (repeatable).
        #[arg(long = "remove")]
        remove: Vec<Scope>,
    },
    /// Print the SHA-256 digest (hex) a store keeps for a key, e.g. for a config-file store.
    /// The key is read from stdin (`keygate hash < key.txt`) or from --file, never from the
    /// command line, where `ps` and shell history would show it.
    Hash {
        /// Read the key from this file instead of stdin.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Refused: a key given here would show in `ps` and shell history.
        #[arg(hide = true)]
        key: Option<String>,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 90d, 24h, 15m)"))
}
