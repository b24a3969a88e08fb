//! The layer's metrics, through the [`metrics`](https://docs.rs/metrics) facade: install any
//! exporter (Prometheus, StatsD, OpenTelemetry…) and they appear there.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | [`keygate_decisions_total`](DECISIONS_TOTAL) | counter | `outcome`, `workspace` (and `key_id` if opted in) | every decided request: `ok`, or its error-table `code` |
//! | [`keygate_fail_open_total`](FAIL_OPEN_TOTAL) | counter | — | requests let through because the limiter failed ([`FailurePolicy::FailOpen`](crate::FailurePolicy::FailOpen)) |
//! | [`keygate_store_lookup_seconds`](STORE_LOOKUP_SECONDS) | histogram | — | from asking the key store for a key to its answer (opt-in: [`metrics_latency(true)`](crate::ApiKeyLayerBuilder::metrics_latency)) |
//! | [`keygate_limiter_seconds`](LIMITER_SECONDS) | histogram | — | from asking the rate limiter to its decision (opt-in, as above) |
//! | [`keygate_cache_lookups_total`](CACHE_LOOKUPS_TOTAL) | counter | `result`: `hit`, `negative`, `miss` | lookups of a `CachedKeyStore` (feature `cache`): answered from memory with a record, answered from memory as unknown, or waiting for the inner store |
//! | [`keygate_cache_stale_served_total`](CACHE_STALE_SERVED_TOTAL) | counter | — | lookups answered with a record past its TTL because the inner store failed |
//! | [`keygate_redis_errors_total`](REDIS_ERRORS_TOTAL) | counter | `kind`: `timeout`, `connection`, `script`, `other` | failed calls of a `RedisRateLimiter` or `RedisUsageLimiter` (feature `redis`) |
//! | [`keygate_deny_cache_hits_total`](DENY_CACHE_HITS_TOTAL) | counter | — | checks a `RedisRateLimiter` refused from its local deny cache, without a Redis call |
//! | [`keygate_postgres_listener_connected`](POSTGRES_LISTENER_CONNECTED) | gauge | — | `PostgresKeyStore` invalidation listeners connected and listening (feature `postgres`): 1 or 0 for one store |
//! | [`keygate_postgres_listener_reconnects_total`](POSTGRES_LISTENER_RECONNECTS_TOTAL) | counter | — | times a listener was listening again after losing its connection |
//!
//! Label values are bounded: `outcome` is `ok` or one of the error table's codes, `result`
//! and `kind` one of the values listed; `workspace`
//! is the key's workspace, empty when no key was identified (off with
//! [`metrics_workspace_label(false)`](crate::ApiKeyLayerBuilder::metrics_workspace_label));
//! a `key_id` label (one series per key) only when the operator opts in with
//! [`metrics_key_label(true)`](crate::ApiKeyLayerBuilder::metrics_key_label).
//!
//! A layer registers each of its series with the recorder in effect the first time it
//! records it, and keeps the handle (so do a cache, a Redis limiter and a listener, each for
//! its own): install the recorder (usually the global one) before the layer serves requests.
//! Call [`describe`] once after installing it to give each metric its unit and help text.
//! A cache, a Redis limiter or a listener records whenever the feature is on; only the
//! layer has a switch ([`metrics(false)`](crate::ApiKeyLayerBuilder::metrics)).
//!
//! Only the decision counter carries labels. The latency histograms carry none, so that a
//! dashboard reads the key store's and the limiter's health in one series each. They are
//! off by default: they read a clock around each backend call and record two samples a
//! request, which costs more than everything else here together (`cargo bench --features
//! metrics --bench metrics` measures both).
//!
//! ```
//! use keygate::{ApiKeyLayer, MemoryKeyStore, MemoryRateLimiter};
//!
//! // metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?, say; then:
//! keygate::metrics::describe();
//! let layer = ApiKeyLayer::builder(MemoryKeyStore::new(), MemoryRateLimiter::new())
//!     .metrics_workspace_label(true) // the default
//!     .metrics_latency(true) // the latency histograms too
//!     .build();
//! # let _ = layer;
//! ```

#[cfg_attr(
    not(any(feature = "cache", feature = "redis")),
    allow(
        dead_code,
        unused_imports,
        reason = "the cache's and the Redis limiters' handles"
    )
)]
mod handles;

#[cfg(test)]
pub(crate) use handles::counts;
#[cfg_attr(
    not(any(feature = "cache", feature = "redis")),
    allow(unused_imports, reason = "the cache's and the Redis limiters' handles")
)]
pub(crate) use handles::{LabelValue, LabelledCounters, LazyCounter};

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Counter of decided requests, labelled `outcome` (`ok` or the error-table `code`) and
/// `workspace` (the key's workspace, empty when no key was identified), and `key_id` when
/// opted in.
pub const DECISIONS_TOTAL: &str = "keygate_decisions_total";

/// Counter of requests let through because the rate limiter failed and the layer fails open.
pub const FAIL_OPEN_TOTAL: &str = "keygate_fail_open_total";

/// Histogram of key-store lookup latency in seconds: from asking the store for a key to its
/// answer, found or not, failures included.
pub const STORE_LOOKUP_SECONDS: &str = "keygate_store_lookup_seconds";

/// Histogram of rate-limiter latency in seconds: from asking the limiter (one quota, or every
/// limit of a plan) to its decision, failures included.
pub const LIMITER_SECONDS: &str = "keygate_limiter_seconds";

/// Counter of `CachedKeyStore` lookups, labelled
/// [`RESULT_LABEL`]: `hit` (a record, from memory), `negative` (an id remembered as unknown,
/// from memory) or `miss` (the lookup waited for the inner store: for its own load, or one in
/// progress for the same id).
pub const CACHE_LOOKUPS_TOTAL: &str = "keygate_cache_lookups_total";

/// Counter of cache lookups answered with a record past its TTL because the inner store
/// failed (each also counted as a `miss` of [`CACHE_LOOKUPS_TOTAL`]).
pub const CACHE_STALE_SERVED_TOTAL: &str = "keygate_cache_stale_served_total";

/// Counter of failed calls to Redis by the Redis limiters (checks, plans' admissions, leases,
/// refunds, credits), labelled [`KIND_LABEL`]: `timeout` (no answer within the limiter's
/// timeout), `connection` (Redis unreachable, or the connection broke), `script` (Redis or
/// the script answered an error, or a reply the limiter cannot read), `other`.
pub const REDIS_ERRORS_TOTAL: &str = "keygate_redis_errors_total";

/// Counter of checks a `RedisRateLimiter` refused from its local deny cache, without a call
/// to Redis.
pub const DENY_CACHE_HITS_TOTAL: &str = "keygate_deny_cache_hits_total";

/// Gauge of `PostgresKeyStore` invalidation listeners connected and listening: 1 while a
/// store's listener is, 0 while it is not (the sum, with several stores in one process).
pub const POSTGRES_LISTENER_CONNECTED: &str = "keygate_postgres_listener_connected";

/// Counter of times an invalidation listener was listening again after it lost its
/// connection.
pub const POSTGRES_LISTENER_RECONNECTS_TOTAL: &str = "keygate_postgres_listener_reconnects_total";

/// The label of [`CACHE_LOOKUPS_TOTAL`]: `hit`, `negative` or `miss`.
pub const RESULT_LABEL: &str = "result";

/// The label of [`REDIS_ERRORS_TOTAL`]: `timeout`, `connection`, `script` or `other`.
pub const KIND_LABEL: &str = "kind";

/// The label of [`DECISIONS_TOTAL`] holding `ok` or the error-table code.
pub const OUTCOME_LABEL: &str = "outcome";

/// The label of [`DECISIONS_TOTAL`] holding the key's workspace.
pub const WORKSPACE_LABEL: &str = "workspace";

/// The opt-in label of [`DECISIONS_TOTAL`] holding the key's id.
pub const KEY_ID_LABEL: &str = "key_id";

/// Describes every metric above (unit and help text) to the installed recorder. Call it once,
/// after installing the recorder; recording works without it.
pub fn describe() {
    describe_counter!(
        DECISIONS_TOTAL,
        Unit::Count,
        "Requests decided by the API key layer, by outcome (ok or the error-table code) and workspace"
    );
    describe_counter!(
        FAIL_OPEN_TOTAL,
        Unit::Count,
        "Requests let through because the rate limiter failed and the layer fails open"
    );
    describe_histogram!(
        STORE_LOOKUP_SECONDS,
        Unit::Seconds,
        "Key-store lookup latency, from the request to the store's answer"
    );
    describe_histogram!(
        LIMITER_SECONDS,
        Unit::Seconds,
        "Rate-limiter latency, from the request to the limiter's decision"
    );
    describe_counter!(
        CACHE_LOOKUPS_TOTAL,
        Unit::Count,
        "Key cache lookups, by result: hit, negative (unknown id, from memory) or miss"
    );
    describe_counter!(
        CACHE_STALE_SERVED_TOTAL,
        Unit::Count,
        "Key cache lookups answered with an expired record because the key store failed"
    );
    describe_counter!(
        REDIS_ERRORS_TOTAL,
        Unit::Count,
        "Failed Redis calls of the rate limiters, by kind: timeout, connection, script or other"
    );
    describe_counter!(
        DENY_CACHE_HITS_TOTAL,
        Unit::Count,
        "Rate-limit checks refused from the local deny cache, without a Redis call"
    );
    describe_gauge!(
        POSTGRES_LISTENER_CONNECTED,
        Unit::Count,
        "PostgreSQL invalidation listeners connected and listening"
    );
    describe_counter!(
        POSTGRES_LISTENER_RECONNECTS_TOTAL,
        Unit::Count,
        "Times a PostgreSQL invalidation listener was listening again after losing its connection"
    );
}
