//! [`CacheCounters`]: what a cache tells [`crate::metrics`] (feature `metrics`): each lookup's
//! result, and each record served stale. Without the feature, nothing, at no cost.

/// How a lookup was answered: the `result` label of `keygate_cache_lookups_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// A record, from memory.
    Hit,
    /// An id remembered as unknown, from memory.
    Negative,
    /// The inner store was asked (by this lookup, or by one in progress for the same id).
    Miss,
}

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
impl crate::metrics::LabelValue for Lookup {
    const ALL: &'static [Self] = &[Lookup::Hit, Lookup::Negative, Lookup::Miss];

    fn index(self) -> usize {
        self as usize
    }

    fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Negative => "negative",
            Lookup::Miss => "miss",
        }
    }
}

/// One cache's handles, registered with the recorder on first use.
pub(super) struct CacheCounters {
    #[cfg(feature = "metrics")]
    lookups: crate::metrics::LabelledCounters<Lookup>,
    #[cfg(feature = "metrics")]
    stale: crate::metrics::LazyCounter,
}

impl CacheCounters {
    pub(super) const fn new() -> Self {
        Self {
            #[cfg(feature = "metrics")]
            lookups: crate::metrics::LabelledCounters::new(
                crate::metrics::CACHE_LOOKUPS_TOTAL,
                crate::metrics::RESULT_LABEL,
            ),
            #[cfg(feature = "metrics")]
            stale: crate::metrics::LazyCounter::new(crate::metrics::CACHE_STALE_SERVED_TOTAL),
        }
    }

    /// Counts a lookup.
    pub(super) fn lookup(&self, result: Lookup) {
        #[cfg(feature = "metrics")]
        self.lookups.increment(result);
        let _ = result;
    }

    /// Counts a record served stale because the inner store failed.
    pub(super) fn stale_served(&self) {
        #[cfg(feature = "metrics")]
        self.stale.increment();
    }
}
