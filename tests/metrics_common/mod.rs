//! Reading back what a test recorded through the `metrics` facade: each test installs a
//! metrics-util `DebuggingRecorder` for its own thread and runs its body on a current-thread
//! runtime (so the tasks it spawns record there too), and tests never see each other's counts.

#![allow(dead_code)]

use std::future::Future;

use metrics::Unit;
use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// Runs `body` with a fresh recorder for this thread; what it recorded.
pub fn recorded<F: Future<Output = ()>>(body: impl FnOnce() -> F) -> Metrics {
    recorded_with(body).0
}

/// [`recorded`], and what `body` returned.
pub fn recorded_with<T, F: Future<Output = T>>(body: impl FnOnce() -> F) -> (Metrics, T) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let returned = metrics::with_local_recorder(&recorder, || runtime.block_on(body()));
    // One snapshot: taking one drains the recorder.
    let recorded = snapshotter.snapshot().into_vec();
    let metrics = Metrics(
        recorded
            .into_iter()
            .map(|(key, unit, _, value)| {
                let value = match value {
                    DebugValue::Counter(n) => Value::Counter(n),
                    DebugValue::Histogram(samples) => Value::Samples(samples.len()),
                    DebugValue::Gauge(_) => Value::Gauge,
                };
                (key, unit, value)
            })
            .collect(),
    );
    (metrics, returned)
}

/// What a series holds: a count, a number of histogram samples, or a gauge.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    Counter(u64),
    Samples(usize),
    Gauge,
}

/// A series' labels, as (name, value) pairs sorted by name.
pub type Labels = Vec<(String, String)>;

/// Everything recorded: key, unit, value.
pub struct Metrics(pub Vec<(CompositeKey, Option<Unit>, Value)>);

impl Metrics {
    /// Every series of `name`: its labels (sorted) and value.
    pub fn series(&self, name: &str) -> Vec<(Labels, Value, Option<Unit>)> {
        let mut found: Vec<_> = self
            .0
            .iter()
            .filter(|(key, ..)| key.key().name() == name)
            .map(|(key, unit, value)| {
                let mut labels: Vec<_> = key
                    .key()
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                labels.sort();
                (labels, *value, *unit)
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// The counter `name`'s series, as (labels, count).
    pub fn counts(&self, name: &str) -> Vec<(Labels, u64)> {
        self.series(name)
            .into_iter()
            .map(|(labels, value, _)| match value {
                Value::Counter(n) => (labels, n),
                other => panic!("{name} is not a counter: {other:?}"),
            })
            .collect()
    }

    /// The number of samples of histogram `name` (0 when it was never recorded).
    pub fn samples(&self, name: &str) -> usize {
        self.series(name)
            .into_iter()
            .map(|(_, value, _)| match value {
                Value::Samples(n) => n,
                other => panic!("{name} is not a histogram: {other:?}"),
            })
            .sum()
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
