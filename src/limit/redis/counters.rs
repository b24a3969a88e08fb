//! [`RedisCounters`]: what the Redis limiters tell [`crate::metrics`] (feature `metrics`): each
//! failed call to Redis by [`ErrorKind`], and each check refused from the local deny cache.
//! Without the feature, nothing, at no cost.

use ::redis::RedisError;

use crate::limit::LimiterError;

/// Why a call to Redis failed: the `kind` label of `keygate_redis_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// No answer within the limiter's timeout.
    Timeout,
    /// Redis could not be reached, or the connection broke.
    Connection,
    /// Redis or the script answered an error, or a reply the limiter cannot read.
    Script,
    /// Anything else (a client-side error of the Redis crate).
    Other,
}

impl ErrorKind {
    /// The kind of a limiter's failure: a timeout, or the Redis error it carries; a failure
    /// carrying no Redis error is a reply the limiter could not read.
    pub(crate) fn of(error: &LimiterError) -> Self {
        match error {
            LimiterError::Timeout(_) => ErrorKind::Timeout,
            LimiterError::Unavailable(source) => source
                .downcast_ref::<RedisError>()
                .map_or(ErrorKind::Script, ErrorKind::of_redis),
        }
    }

    /// The kind of an error of the Redis crate.
    pub(crate) fn of_redis(error: &RedisError) -> Self {
        use ::redis::{ErrorKind as Redis, ServerErrorKind};
        if error.is_timeout() {
            return ErrorKind::Timeout;
        }
        if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
            return ErrorKind::Connection;
        }
        // A cluster that cannot serve the key's slot now (`CLUSTERDOWN`, `MASTERDOWN`,
        // `TRYAGAIN`, a redirection the client gave up following): the server is not reachable
        // for this key, whatever the script would answer.
        if error.is_cluster_error() || error.kind() == Redis::Server(ServerErrorKind::MasterDown) {
            return ErrorKind::Connection;
        }
        match error.kind() {
            Redis::Server(_)
            | Redis::Extension
            | Redis::Parse
            | Redis::UnexpectedReturnType
            | Redis::RESP3NotSupported => ErrorKind::Script,
            Redis::AuthenticationFailed | Redis::ClusterConnectionNotFound => ErrorKind::Connection,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
impl crate::metrics::LabelValue for ErrorKind {
    const ALL: &'static [Self] = &[
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::Script,
        ErrorKind::Other,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::Script => "script",
            ErrorKind::Other => "other",
        }
    }
}

/// One limiter's handles, registered with the recorder on first use.
pub(crate) struct RedisCounters {
    #[cfg(feature = "metrics")]
    errors: crate::metrics::LabelledCounters<ErrorKind>,
    #[cfg(feature = "metrics")]
    deny_cache_hits: crate::metrics::LazyCounter,
}

impl RedisCounters {
    pub(crate) const fn new() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            errors: crate::metrics::LabelledCounters::new(
                crate::metrics::REDIS_ERRORS_TOTAL,
                crate::metrics::KIND_LABEL,
            ),
            #[cfg(feature = "metrics")]
            deny_cache_hits: crate::metrics::LazyCounter::new(
                crate::metrics::DENY_CACHE_HITS_TOTAL,
            ),
        }
    }

    /// Counts a failed call to Redis.
    pub(crate) fn failed(&self, kind: ErrorKind) {
        #[cfg(feature = "metrics")]
        self.errors.increment(kind);
        let _ = kind;
    }

    /// `result`, its failure counted.
    pub(crate) fn counted<T>(&self, result: Result<T, LimiterError>) -> Result<T, LimiterError> {
        if let Err(error) = &result {
            self.failed(ErrorKind::of(error));
        }
        result
    }

    /// Counts a check refused from the local deny cache.
    pub(crate) fn deny_cache_hit(&self) {
        #[cfg(feature = "metrics")]
        self.deny_cache_hits.increment();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_timeout_is_of_kind_timeout() {
        let error = LimiterError::Timeout(Duration::from_millis(100));
        assert_eq!(ErrorKind::of(&error), ErrorKind::Timeout);
    }

    #[test]
    fn a_broken_connection_is_of_kind_connection() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let error = LimiterError::Unavailable(Box::new(RedisError::from(io)));
        assert_eq!(ErrorKind::of(&error), ErrorKind::Connection);
    }

    #[test]
    fn an_error_answered_by_redis_is_of_kind_script() {
        let answered = RedisError::from((
            ::redis::ErrorKind::Server(::redis::ServerErrorKind::ResponseError),
            "ERR Error running script",
        ));
        let error = LimiterError::Unavailable(Box::new(answered));
        assert_eq!(ErrorKind::of(&error), ErrorKind::Script);
    }

    #[test]
    fn a_cluster_that_cannot_serve_the_slot_is_of_kind_connection() {
        for (kind, text) in [
            (
                ::redis::ServerErrorKind::ClusterDown,
                "CLUSTERDOWN The cluster is down",
            ),
            (
                ::redis::ServerErrorKind::MasterDown,
                "MASTERDOWN Link with MASTER is down",
            ),
            (
                ::redis::ServerErrorKind::TryAgain,
                "TRYAGAIN Multiple keys request during rehashing",
            ),
        ] {
            let error =
                RedisError::from((::redis::ErrorKind::Server(kind), "cluster", text.into()));
            let error = LimiterError::Unavailable(Box::new(error));
            assert_eq!(ErrorKind::of(&error), ErrorKind::Connection, "{text}");
        }
    }

    #[test]
    fn an_unreadable_reply_is_of_kind_script() {
        let error = LimiterError::Unavailable("unexpected reply from the script: [2]".into());
        assert_eq!(ErrorKind::of(&error), ErrorKind::Script);
    }
}
