//! Metric handles that a component registers with the recorder once, the first time it
//! records, and keeps: recording is then an atomic add on the handle, never a registration
//! (which builds the labels and asks the recorder's registry).
//!
//! The recorder in effect at that first use is the one the handles report to: install it
//! before the component works.

use std::marker::PhantomData;
use std::sync::OnceLock;

use metrics::Counter;

/// The values of a bounded label: an enum, each of whose values names one series.
pub(crate) trait LabelValue: Copy + 'static {
    /// Every value, each at its [`index`](Self::index).
    const ALL: &'static [Self];

    /// Where the value is in [`ALL`](Self::ALL).
    fn index(self) -> usize;

    /// The label's value.
    fn as_str(self) -> &'static str;
}

/// A counter without labels.
pub(crate) struct LazyCounter {
    name: &'static str,
    handle: OnceLock<Counter>,
}

impl LazyCounter {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            handle: OnceLock::new(),
        }
    }

    /// Adds one.
    pub(crate) fn increment(&self) {
        self.handle
            .get_or_init(|| metrics::counter!(self.name))
            .increment(1);
    }
}

/// A counter per value of the bounded label `L`: every series is registered at the first
/// increment of any, so that each exists (at zero) from then on.
pub(crate) struct LabelledCounters<L> {
    name: &'static str,
    label: &'static str,
    handles: OnceLock<Box<[Counter]>>,
    values: PhantomData<L>,
}

impl<L: LabelValue> LabelledCounters<L> {
    /// The counters of metric `name`, labelled `label`.
    pub(crate) const fn new(name: &'static str, label: &'static str) -> Self {
        Self {
            name,
            label,
            handles: OnceLock::new(),
            values: PhantomData,
        }
    }

    /// Adds one to the series of `value`.
    pub(crate) fn increment(&self, value: L) {
        let handles = self.handles.get_or_init(|| {
            L::ALL
                .iter()
                .map(|v| metrics::counter!(self.name, self.label => v.as_str()))
                .collect()
        });
        if let Some(counter) = handles.get(value.index()) {
            counter.increment(1);
        }
    }
}

/// What a test recorded: each counter's labels' values (joined by `/`) and count, sorted.
#[cfg(test)]
pub(crate) fn counts(recorder: metrics_util::debugging::Snapshotter) -> Vec<(String, u64)> {
    use metrics_util::debugging::DebugValue;
    let mut counts: Vec<(String, u64)> = recorder
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels: Vec<&str> = key.key().labels().map(|l| l.value()).collect();
            let DebugValue::Counter(n) = value else {
                panic!("{key:?} is not a counter");
            };
            (labels.join("/"), n)
        })
        .collect();
    counts.sort();
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::DebuggingRecorder;
    #[derive(Clone, Copy)]
    enum Side {
        Left,
        Right,
    }

    impl LabelValue for Side {
        const ALL: &'static [Self] = &[Side::Left, Side::Right];

        fn index(self) -> usize {
            self as usize
        }

        fn as_str(self) -> &'static str {
            match self {
                Side::Left => "left",
                Side::Right => "right",
            }
        }
    }

    #[test]
    fn every_series_of_a_label_exists_from_the_first_increment_of_any() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let counters = LabelledCounters::<Side>::new("test_sides_total", "side");
        metrics::with_local_recorder(&recorder, || {
            counters.increment(Side::Right);
            counters.increment(Side::Right);
        });
        let counts = counts(snapshotter);
        assert_eq!(counts, [("left".to_owned(), 0), ("right".to_owned(), 2)]);
    }
}
