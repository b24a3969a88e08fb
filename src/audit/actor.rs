//! [`Actor`]: who made a change to a key.

use std::fmt;

use crate::key::KeyId;
use crate::record::KeyName;

/// The longest user or service name an [`Actor`] keeps, in characters; longer ones are cut.
pub const MAX_ACTOR_NAME: usize = 64;

/// Who made a change: recorded in every [`AuditEvent`](super::AuditEvent).
///
/// The admin API records the caller's key ([`Actor::Key`]), the `keygate` tool the OS user who
/// ran it ([`Actor::Cli`]), and a service changing keys through the library names itself
/// ([`Actor::Service`]). [`KeyManager`](crate::KeyManager)'s calls without an actor record
/// [`Actor::service`] with the name `service`.
///
/// ```
/// use keygate::audit::Actor;
///
/// let cli = Actor::cli("alice");
/// assert_eq!(cli.to_string(), "cli:alice");
/// // Names are kept printable and short, whatever the environment holds.
/// assert_eq!(Actor::cli("bob\n\u{1b}[31m").to_string(), "cli:bob??[31m");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Actor {
    /// A caller authenticated by a key granting `admin`: the admin API and the panel.
    Key {
        /// The caller's key id.
        id: KeyId,
        /// The caller's key name, when the change was made.
        name: KeyName,
    },
    /// The `keygate` command-line tool, run by an OS user.
    Cli {
        /// The OS user (`$USER`, else `$LOGNAME`, else `unknown`).
        user: String,
    },
    /// The service's own code, through the library.
    Service {
        /// The name the service gave itself (`service` unless set).
        name: String,
    },
    /// A report that the key leaked (a secret scanning service found it in public).
    LeakReport {
        /// Who reported it and where they found it (e.g. `github:content`), printable and at
        /// most [`MAX_ACTOR_NAME`] characters.
        source: String,
        /// Where the key was found (at most [`MAX_REPORT_URL`] characters).
        url: String,
    },
}

/// The longest report URL an [`Actor::LeakReport`] keeps, in characters; longer ones are cut.
pub const MAX_REPORT_URL: usize = 2048;

impl Actor {
    /// A caller's key.
    pub fn key(id: KeyId, name: KeyName) -> Self {
        Actor::Key { id, name }
    }

    /// The command-line tool, run by `user` (made printable and at most
    /// [`MAX_ACTOR_NAME`] characters).
    pub fn cli(user: &str) -> Self {
        Actor::Cli {
            user: printable(user),
        }
    }

    /// The command-line tool, run by the current OS user (`$USER`, else `$LOGNAME`, else
    /// `unknown`).
    pub fn cli_user() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|user| !user.trim().is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        Self::cli(&user)
    }

    /// A service named `name` (made printable and at most [`MAX_ACTOR_NAME`] characters).
    pub fn service(name: &str) -> Self {
        Actor::Service {
            name: printable(name),
        }
    }

    /// A leak report from `source` (e.g. `github:content`), of a key found at `url` (both
    /// made printable and cut to their bounds).
    pub fn leak_report(source: &str, url: &str) -> Self {
        Actor::LeakReport {
            source: printable(source),
            url: url
                .chars()
                .take(MAX_REPORT_URL)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect(),
        }
    }

    /// The kind of actor, as stored and shown: `key`, `cli`, `service` or `leak_report`.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Key { .. } => "key",
            Actor::Cli { .. } => "cli",
            Actor::Service { .. } => "service",
            Actor::LeakReport { .. } => "leak_report",
        }
    }

    /// The actor's name: the key's name, the OS user, the service's name, or the report's
    /// source.
    pub fn name(&self) -> &str {
        match self {
            Actor::Key { name, .. } => name.as_str(),
            Actor::Cli { user } => user,
            Actor::Service { name } => name,
            Actor::LeakReport { source, .. } => source,
        }
    }

    /// What else the actor carries, as stored beside its kind and name: a leak report's URL.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Actor::LeakReport { url, .. } => Some(url),
            _ => None,
        }
    }

    /// The caller's key id, for [`Actor::Key`].
    pub fn key_id(&self) -> Option<&KeyId> {
        match self {
            Actor::Key { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The actor as stored: its [`kind`](Self::kind), key id, name and
    /// [`detail`](Self::detail). `None` when the parts do not make an actor (an unknown kind,
    /// a key id that does not parse, a bad key name, a detail missing or where none belongs).
    pub fn from_parts(
        kind: &str,
        key_id: Option<&str>,
        name: &str,
        detail: Option<&str>,
    ) -> Option<Self> {
        match (kind, key_id, detail) {
            ("key", Some(id), None) => Some(Actor::Key {
                id: id.parse().ok()?,
                name: name.parse().ok()?,
            }),
            ("cli", None, None) => Some(Actor::cli(name)),
            ("service", None, None) => Some(Actor::service(name)),
            ("leak_report", None, Some(url)) => Some(Actor::leak_report(name, url)),
            _ => None,
        }
    }
}

impl Default for Actor {
    /// [`Actor::service`] named `service`.
    fn default() -> Self {
        Actor::service("service")
    }
}

impl fmt::Display for Actor {
    /// `key:<id> (<name>)`, `cli:<user>`, `service:<name>` or `leak_report:<source> (<url>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Key { id, name } => write!(f, "key:{id} ({name})"),
            Actor::Cli { user } => write!(f, "cli:{user}"),
            Actor::Service { name } => write!(f, "service:{name}"),
            Actor::LeakReport { source, url } => write!(f, "leak_report:{source} ({url})"),
        }
    }
}

/// `text` with control characters replaced by `?`, cut to [`MAX_ACTOR_NAME`] characters;
/// `unknown` when nothing is left.
fn printable(text: &str) -> String {
    let kept: String = text
        .trim()
        .chars()
        .take(MAX_ACTOR_NAME)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if kept.is_empty() {
        "unknown".to_owned()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_user_name_is_cut_to_the_bound() {
        let actor = Actor::cli(&"u".repeat(500));
        assert_eq!(actor.name().chars().count(), MAX_ACTOR_NAME);
    }

    #[test]
    fn an_empty_service_name_is_unknown() {
        assert_eq!(Actor::service("  ").name(), "unknown");
    }

    #[test]
    fn an_actor_round_trips_through_its_stored_parts() {
        let id = crate::key::generate(&crate::key::KeyPrefix::default())
            .unwrap()
            .id;
        for actor in [
            Actor::key(id, "ops".parse().unwrap()),
            Actor::cli("alice"),
            Actor::service("billing"),
            Actor::leak_report("github:content", "https://example.com/a/b.rs#L3"),
        ] {
            let id = actor.key_id().map(ToString::to_string);
            let back = Actor::from_parts(actor.kind(), id.as_deref(), actor.name(), actor.detail());
            assert_eq!(back, Some(actor));
        }
    }

    #[test]
    fn stored_parts_of_no_actor_are_refused() {
        assert_eq!(Actor::from_parts("robot", None, "x", None), None);
        assert_eq!(Actor::from_parts("key", Some("not an id"), "x", None), None);
        assert_eq!(Actor::from_parts("cli", Some("abc"), "x", None), None);
        assert_eq!(Actor::from_parts("leak_report", None, "github", None), None);
        assert_eq!(Actor::from_parts("cli", None, "alice", Some("url")), None);
    }
}
