//! The command line, as clap reads it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use keygate::audit::{AuditId, MAX_AUDIT_PAGE};
use keygate::key::{KeyId, KeyPrefix};
use keygate::plan::{LimitName, PlanName};
use keygate::store::{KeyCursor, MAX_KEY_PAGE, MAX_NAME_PREFIX};
use keygate::{IpAllowlist, KeyName, KeyStatus, MAX_ALLOWED_NETWORKS, Metadata, Scope, Workspace};

pub use crate::limits::LimitArg;
pub use crate::plans::PlansCommand;

/// Manage keygate API keys: create, import, list, edit scopes, rotate, disable, enable, revoke,
/// delete, and read the audit log.
///
/// Every command acts within one workspace (--workspace, default `default`): a key of another
/// workspace is not found, as an unknown id.
///
/// Exit codes: 0 done; 1 no such key, the key's state forbids the change (revoked), the name
/// is taken in the workspace, or some lines of an import were refused; 2 usage error or invalid input; 3 the key store could not
/// be opened or reached.
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
    /// The workspace the command acts in: 1 to 64 of a-z, 0-9, - and _ (acme, default).
    /// A key of another workspace is not found, as an unknown id.
    #[arg(
        long,
        global = true,
        env = "KEYGATE_WORKSPACE",
        default_value = "default"
    )]
    pub workspace: Workspace,
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key in the workspace and print it once: it cannot be shown again.
    Create {
        /// Descriptive name: lowercase letters, digits, dashes (production-backend); unique
        /// among the workspace's unrevoked keys.
        #[arg(long)]
        name: KeyName,
        /// The application's own data about the key: a JSON object of at most 1 KiB
        /// ('{"tier":"pro"}').
        #[arg(long, value_name = "JSON")]
        meta: Option<Metadata>,
        /// A scope to grant (repeat for more): read:all, write:all, admin, read:<resource>…
        #[arg(long = "scope", required = true)]
        scopes: Vec<Scope>,
        /// Expire after this long (90d, 12h, 30m).
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// Put the key on this plan (see `keygate plans`); without it the key is on its
        /// workspace's plan, if any.
        #[arg(long)]
        plan: Option<PlanName>,
        /// The key's own value for a limit of its plan (repeatable), read by the limit's kind:
        /// a quota N (monthly=2000000), credits N or N,refill=M, a rate N/UNIT,BURST
        /// (burst=100/s,200). A limit shared by the workspace cannot be overridden.
        #[arg(long = "limit", value_name = "NAME=VALUE")]
        limits: Vec<LimitArg>,
        #[command(flatten)]
        allow: AllowIps,
    },
    /// List the workspace's keys (never secrets), oldest first: every key, or with --limit
    /// one page, the command for the next one on stderr.
    List {
        /// One page of at most this many keys (1 to 500); without it, every key.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_KEY_PAGE as i64))]
        limit: Option<u16>,
        /// Only keys after this cursor: the one the page before ended with.
        #[arg(long, value_name = "CURSOR")]
        after: Option<KeyCursor>,
        /// Only keys with this status: active, disabled, expired or revoked.
        #[arg(long)]
        status: Option<KeyStatus>,
        /// Only keys whose name starts with this (ci-).
        #[arg(long = "name", value_name = "PREFIX", value_parser = parse_name_prefix)]
        name_prefix: Option<String>,
    },
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
    /// Disable a key: refused with disabled_api_key until enabled again.
    Disable {
        /// The key id.
        id: KeyId,
    },
    /// Enable a disabled key again.
    Enable {
        /// The key id.
        id: KeyId,
    },
    /// Delete a key for good: its record goes, its name is free, its id is never used again;
    /// its audit events stay. Needs --yes.
    Delete {
        /// The key id.
        id: KeyId,
        /// Confirm the deletion (it cannot be undone).
        #[arg(long)]
        yes: bool,
    },
    /// Import keys issued elsewhere from a JSON Lines file, so that they keep working: every
    /// line is checked first and nothing is imported if one is bad; then each line is imported,
    /// each refusal reported by line number.
    ///
    /// A line: {"key": "<plaintext>"} or {"digest": "<hex SHA-256 of the whole token>"}, with
    /// "name" and "scopes" (["read:all"]), and optionally "id", "workspace" (default:
    /// --workspace), "metadata" (an object) and "expires_at" (RFC 3339). Blank lines are
    /// skipped. Exit codes: 0 every key imported; 1 some refused by the store (name taken,
    /// id or secret used), the others imported; 2 a bad line or file, nothing imported; 3 the
    /// store could not be reached.
    Import {
        /// The JSON Lines file.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
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
        #[command(flatten)]
        edit: ScopeEdit,
    },
    /// Edit a key: rename it, replace its metadata, add or remove scopes, move it to another
    /// plan, set its own limit values, replace or clear the networks it may be used from.
    Update {
        /// The key id.
        id: KeyId,
        /// New name, unique among the workspace's unrevoked keys.
        #[arg(long)]
        name: Option<KeyName>,
        /// New metadata, replacing the old object whole: a JSON object of at most 1 KiB
        /// ('{}' clears it).
        #[arg(long, value_name = "JSON")]
        meta: Option<Metadata>,
        /// Move the key to this plan.
        #[arg(long, conflicts_with = "no_plan")]
        plan: Option<PlanName>,
        /// Take the key off its own plan: it is on its workspace's plan, if any.
        #[arg(long)]
        no_plan: bool,
        /// The key's own value for a limit of its plan (repeatable), as for `create`; replaces
        /// every value set before. Kept when the key moves to another plan, applying where it
        /// fits.
        #[arg(long = "limit", value_name = "NAME=VALUE")]
        limits: Vec<LimitArg>,
        /// Remove the key's own limit values: its plan's apply.
        #[arg(long, conflicts_with = "limits")]
        clear_limits: bool,
        #[command(flatten)]
        allow: AllowIps,
        /// Remove the key's IP allowlist: it may be used from anywhere.
        #[arg(long, conflicts_with = "allow_ips")]
        clear_allowed_ips: bool,
        #[command(flatten)]
        edit: ScopeEdit,
    },
    /// Show the workspace's audit log: every change to its keys (who, what, which fields
    /// before and after), newest first, a page at a time.
    Audit {
        /// Only this key's events.
        #[arg(long, value_name = "ID")]
        key: Option<KeyId>,
        /// At most this many events (1 to 500; default 50).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_AUDIT_PAGE as i64))]
        limit: Option<u16>,
        /// Only events older than this cursor: the one the page before ended with.
        #[arg(long, value_name = "CURSOR", value_parser = crate::audit::parse_cursor)]
        before: Option<AuditId>,
    },
    /// Plans and usage limits: define, list, and assign them to the workspace.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Read a key's credits balance, or add to it (--add), in the Redis the service's
    /// `RedisRateLimiter` counts in. Needs the `redis` feature.
    Credits {
        /// The key id.
        id: KeyId,
        /// Credits to add.
        #[arg(long)]
        add: Option<u64>,
        /// The credits limit of the key's plan, when the plan has more than one.
        #[arg(long)]
        limit: Option<LimitName>,
        /// The Redis the service's limiter uses.
        #[arg(long, env = "KEYGATE_REDIS_URL")]
        redis: String,
        /// Where plans' counters live: the service's `RedisRateLimiter` namespace followed by
        /// `usage:`.
        #[arg(long, default_value = "keygate:rl:usage:")]
        redis_namespace: String,
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

/// Scopes to add to a key and to remove from it.
#[derive(Debug, Args)]
pub struct ScopeEdit {
    /// A scope to add (repeatable).
    #[arg(long = "add")]
    pub add: Vec<Scope>,
    /// A scope to remove (repeatable).
    #[arg(long = "remove")]
    pub remove: Vec<Scope>,
}

impl ScopeEdit {
    /// Whether it adds or removes anything.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// `--allow-ip`: the networks a key may be used from.
#[derive(Debug, Args)]
pub struct AllowIps {
    /// A network the key may be used from (repeatable, at most 64): an address (192.0.2.7)
    /// or a CIDR range (192.0.2.0/24, 2001:db8::/32). Requests from elsewhere are refused
    /// with ip_not_allowed; without it, the key works from anywhere. On `update`, the list
    /// given replaces the key's whole list.
    #[arg(long = "allow-ip", value_name = "CIDR", value_parser = parse_network)]
    pub allow_ips: Vec<IpAllowlist>,
}

impl AllowIps {
    /// The allowlist the flags give (`None` without any), refused beyond the bound.
    pub fn allowlist(&self) -> Result<Option<IpAllowlist>, keygate::InvalidAllowlist> {
        if self.allow_ips.is_empty() {
            return Ok(None);
        }
        if self.allow_ips.len() > MAX_ALLOWED_NETWORKS {
            return Err(keygate::InvalidAllowlist::TooMany(self.allow_ips.len()));
        }
        let networks = self.allow_ips.iter().flat_map(|list| list.networks());
        IpAllowlist::new(networks.copied()).map(Some)
    }
}

/// One `--allow-ip`: a single address or CIDR range (a comma-separated list is refused, so
/// that each flag is one network).
fn parse_network(text: &str) -> Result<IpAllowlist, String> {
    IpAllowlist::parse_all([text]).map_err(|e| e.to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 90d, 24h, 15m)"))
}

fn parse_name_prefix(text: &str) -> Result<String, String> {
    if text.len() > MAX_NAME_PREFIX {
        return Err(format!("a name prefix is at most {MAX_NAME_PREFIX} bytes"));
    }
    Ok(text.to_owned())
}
