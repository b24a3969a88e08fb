//! [`DecisionCounters`]: a layer's `keygate_decisions_total` counters, one per series (outcome
//! × workspace, × key id when the operator opts in), each registered with the recorder on its
//! series' first decision and then found again without a lock.
//!
//! Every request counts one decision, so finding its counter must cost little next to the
//! counter's own atomic add. The counters live in a fixed table of slots, each filled once
//! (a [`OnceLock`]) and never changed afterwards, so a look-up is a multiplicative hash of the
//! labels, an atomic load and a comparison (the workspace's by pointer first): no lock, no
//! clone of the request's workspace, no write to memory other threads read. A series that
//! finds no free slot among its few probes (more series than the table holds: many
//! workspaces, or the key-id label) is kept in a map behind a lock instead.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{OnceLock, PoisonError, RwLock};

use crate::events::Outcome;
use crate::id_map::IdHasher;
use crate::key::KeyId;
use crate::workspace::Workspace;

/// Slots in the table: a power of two. Room for the outcomes of a dozen or so workspaces;
/// a slot is some 60 bytes, so 15 KiB a layer, made on its first decision.
const SLOTS: usize = 256;

/// Slots a series tries, from the one its hash names, before it goes to the locked map.
const PROBES: usize = 8;

/// Which labels the series of a layer carry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Labels {
    /// `workspace`: the key's workspace, empty for a decision without a key.
    pub(crate) workspace: bool,
    /// `key_id`: the key's id, empty for a decision without a key.
    pub(crate) key: bool,
}

/// The labels of one decision: what its series is, borrowed from the request.
#[derive(Clone, Copy)]
pub(crate) struct Series<'a> {
    pub(crate) outcome: Outcome,
    /// The key's workspace, when the workspace label is on and a key was identified.
    pub(crate) workspace: Option<&'a Workspace>,
    /// The key's id, when the key-id label is on and a key was identified.
    pub(crate) key: Option<KeyId>,
}

/// The labels of a series with a counter, owned by the table.
#[derive(PartialEq, Eq, Hash)]
struct Held {
    outcome: Outcome,
    workspace: Option<Workspace>,
    key: Option<KeyId>,
}

impl Series<'_> {
    /// The table's hash of the labels.
    fn hash(&self) -> u64 {
        let mut hasher = IdHasher::default();
        hasher.write(self.outcome.as_str().as_bytes());
        if let Some(workspace) = self.workspace {
            hasher.write_u32(1);
            hasher.write(workspace.as_str().as_bytes());
        }
        if let Some(key) = self.key {
            hasher.write_u32(2);
            hasher.write(key.as_bytes());
        }
        hasher.finish()
    }

    /// Whether `held` is this series.
    fn is(&self, held: &Held) -> bool {
        let workspace = match (self.workspace, &held.workspace) {
            (None, None) => true,
            (Some(ours), Some(theirs)) => ours.same(theirs),
            _ => false,
        };
        self.outcome == held.outcome && workspace && self.key == held.key
    }

    fn to_held(self) -> Held {
        Held {
            outcome: self.outcome,
            workspace: self.workspace.cloned(),
            key: self.key,
        }
    }

    /// The series' counter, from the recorder in effect, with the workspace and key labels
    /// when they are on (empty for a decision without a key).
    fn register(&self, labels: Labels) -> metrics::Counter {
        use crate::metrics::{DECISIONS_TOTAL, KEY_ID_LABEL, OUTCOME_LABEL, WORKSPACE_LABEL};
        let mut pairs = vec![metrics::Label::from_static_parts(
            OUTCOME_LABEL,
            self.outcome.as_str(),
        )];
        if labels.workspace {
            let workspace = self.workspace.map_or("", |w| w.as_str());
            pairs.push(metrics::Label::new(WORKSPACE_LABEL, workspace.to_owned()));
        }
        if labels.key {
            let id = self.key.map_or(String::new(), |id| id.to_string());
            pairs.push(metrics::Label::new(KEY_ID_LABEL, id));
        }
        metrics::counter!(DECISIONS_TOTAL, pairs)
    }
}

/// A slot of the table: empty, or a series and its counter for good.
type Slot = OnceLock<(Held, metrics::Counter)>;

/// One layer's `keygate_decisions_total` counters.
#[derive(Default)]
pub(crate) struct DecisionCounters {
    /// [`SLOTS`] slots, made on the first decision (a layer with metrics off has none).
    table: OnceLock<Box<[Slot]>>,
    /// The series that found no free slot.
    overflow: RwLock<HashMap<Held, metrics::Counter>>,
}

impl DecisionCounters {
    /// Adds one to the counter of `series`, registering it (with `labels`) on its first use.
    pub(crate) fn count(&self, series: Series<'_>, labels: Labels) {
        let table = self
            .table
            .get_or_init(|| (0..SLOTS).map(|_| OnceLock::new()).collect());
        let first = usize::try_from(series.hash() >> (u64::BITS - SLOTS.ilog2())).unwrap_or(0);
        for probe in 0..PROBES {
            let slot = &table[(first + probe) % SLOTS];
            let (held, counter) = match slot.get() {
                Some(entry) => entry,
                None => slot.get_or_init(|| (series.to_held(), series.register(labels))),
            };
            if series.is(held) {
                counter.increment(1);
                return;
            }
        }
        self.count_overflow(series, labels);
    }

    /// [`count`](Self::count) for a series the table has no slot for.
    fn count_overflow(&self, series: Series<'_>, labels: Labels) {
        let held = series.to_held();
        let known = self.overflow.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = known.get(&held) {
            counter.increment(1);
            return;
        }
        drop(known);
        let counter = series.register(labels);
        counter.increment(1);
        let mut known = self
            .overflow
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        known.entry(held).or_insert(counter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::ErrorCode;
    use metrics_util::debugging::DebuggingRecorder;

    const LABELS: Labels = Labels {
        workspace: true,
        key: false,
    };

    /// Counts `decisions` on one table under a fresh recorder; each series' count, keyed by
    /// its `outcome/workspace` labels, and how many series went to the locked map.
    fn counted(decisions: &[(Outcome, Option<&Workspace>)]) -> (Vec<(String, u64)>, usize) {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let counters = DecisionCounters::default();
        metrics::with_local_recorder(&recorder, || {
            for &(outcome, workspace) in decisions {
                let series = Series {
                    outcome,
                    workspace,
                    key: None,
                };
                counters.count(series, LABELS);
            }
        });
        let counts = crate::metrics::counts(snapshotter);
        let overflowed = counters.overflow.read().expect("not poisoned").len();
        (counts, overflowed)
    }

    fn workspace(id: &str) -> Workspace {
        Workspace::new(id).expect("valid workspace")
    }

    #[test]
    fn equal_workspaces_in_different_allocations_share_one_series() {
        let (one, other) = (workspace("acme"), workspace("acme"));
        assert!(!std::ptr::eq(one.as_str(), other.as_str()));
        let (counts, _) = counted(&[
            (Outcome::Allowed, Some(&one)),
            (Outcome::Allowed, Some(&other)),
        ]);
        assert_eq!(counts, [("ok/acme".to_owned(), 2)]);
    }

    #[test]
    fn no_workspace_is_a_series_apart_from_every_workspace() {
        let acme = workspace("acme");
        let invalid = Outcome::Refused(ErrorCode::InvalidApiKey);
        let (counts, _) = counted(&[(invalid, None), (invalid, Some(&acme)), (invalid, None)]);
        assert_eq!(
            counts,
            [
                ("invalid_api_key/".to_owned(), 2),
                ("invalid_api_key/acme".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn series_beyond_the_table_are_each_counted_exactly() {
        let workspaces: Vec<Workspace> = (0..SLOTS * 2)
            .map(|n| workspace(&format!("w{n}")))
            .collect();
        let decisions: Vec<_> = workspaces
            .iter()
            .flat_map(|w| [(Outcome::Allowed, Some(w)); 3])
            .collect();
        let (counts, overflowed) = counted(&decisions);
        assert!(overflowed >= SLOTS, "{overflowed} series in the locked map");
        assert_eq!(counts.len(), SLOTS * 2);
        assert!(counts.iter().all(|(_, n)| *n == 3), "{counts:?}");
    }
}
