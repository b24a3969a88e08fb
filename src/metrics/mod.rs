//! The layer's metrics, through the [`metrics`](https://docs.rs/metrics) facade: install any
//! exporter (Prometheus, StatsD, OpenTelemetry…) and they appear there.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | [`keygate_decisions_total`](DECISIONS_TOTAL) | counter | `outcome`, `workspace` (and `key_id` if opted in) | every decided request: `ok`, or its error-table `code` |
//! | [`keygate_fail_open_total`](FAIL_OPEN_TOTAL) | counter | — | requests let through because the limiter failed ([`FailurePolicy::FailOpen`](crate::FailurePolicy::FailOpen)) |
//! | [`keygate_store_lookup_seconds`](STORE_LOOKUP_SECONDS) | histogram | — | from asking the key store for a key to its answer (opt-in: [`metrics_latency(true)`](crate::ApiKeyLayerBuilder::metrics_latency)) |
//! | [`keygate_limiter_seconds`](LIMITER_SECONDS) | histogram | — | from asking the rate limiter to its decision (opt-in, as above) |
//!
//! Label values are bounded: `outcome` is `ok` or one of the error table's codes; `workspace`
//! is the key's workspace, empty when no key was identified (off with
//! [`metrics_workspace_label(false)`](crate::ApiKeyLayerBuilder::metrics_workspace_label));
//! a `key_id` label (one series per key) only when the operator opts in with
//! [`metrics_key_label(true)`](crate::ApiKeyLayerBuilder::metrics_key_label).
//!
//! A layer registers each of its series with the recorder in effect the first time it
//! records it, and keeps the handle: install the recorder (usually the global one) before the
//! layer serves requests. Call [`describe`] once after installing it to give each metric its
//! unit and help text.
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

use metrics::{Unit, describe_counter, describe_histogram};

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
}
