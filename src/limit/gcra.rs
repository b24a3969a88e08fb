//! The generic cell rate algorithm (GCRA), as a pure function.
//!
//! The whole state of a key is one number: its *theoretical arrival time* (TAT), the instant at
//! which its bucket would be full again. A request at `now` is admitted when, after adding one
//! emission interval, the TAT is no further ahead of `now` than the quota's window
//! (`burst × interval`). Every limiter in this crate (in memory, Redis) runs this same rule, so
//! the same quota gives the same decisions everywhere.
//!
//! ```
//! use std::num::NonZeroU32;
//! use keygate::Quota;
//! use keygate::limit::gcra;
//!
//! let quota = Quota::per_second(NonZeroU32::new(2).unwrap());
//! let (tat, first) = gcra::decide(0, 0, &quota);
//! let (tat, second) = gcra::decide(tat, 0, &quota);
//! let (_, third) = gcra::decide(tat, 0, &quota);
//! assert!(first.allowed && second.allowed && !third.allowed);
//! assert_eq!(third.retry_after.as_millis(), 500);
//! ```

use std::time::Duration;

use super::{Decision, Quota};

/// Decides one request.
///
/// `tat` is the stored theoretical arrival time (0 for a key never seen) and `now` the current
/// time, both in nanoseconds on the same monotonic scale. Returns the TAT to store (unchanged
/// when the request is refused) and the decision.
pub fn decide(tat: u64, now: u64, quota: &Quota) -> (u64, Decision) {
    decide_units(tat, now, quota, 1)
}

/// Decides one request that costs `units` (at least 1) of the quota: [`decide`] for a
/// route that spends several units at once. A request costing more than the burst is always
/// refused.
pub fn decide_units(tat: u64, now: u64, quota: &Quota, units: u32) -> (u64, Decision) {
    let interval = quota.interval_nanos();
    let window = quota.window_nanos();
    let start = tat.max(now);
    let new_tat = start.saturating_add(interval.saturating_mul(u64::from(units.max(1))));
    let ahead = new_tat - now;
    if ahead <= window {
        let remaining = (window - ahead) / interval;
        (
            new_tat,
            Decision {
                allowed: true,
                limit: quota.burst(),
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                reset: Duration::from_nanos(ahead),
                retry_after: Duration::ZERO,
            },
        )
    } else {
        (
            tat,
            Decision {
                allowed: false,
                limit: quota.burst(),
                remaining: 0,
                reset: Duration::from_nanos(start - now),
                retry_after: Duration::from_nanos(ahead - window),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::num::NonZeroU32;

    fn quota(burst: u32, interval_ms: u64) -> Quota {
        Quota::new(burst, Duration::from_millis(interval_ms)).unwrap()
    }

    #[test]
    fn a_fresh_key_gets_its_whole_burst_at_once() {
        let q = quota(5, 1000);
        let mut tat = 0;
        for expected_remaining in (0..5).rev() {
            let (next, d) = decide(tat, 10, &q);
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_remaining);
            tat = next;
        }
        let (_, d) = decide(tat, 10, &q);
        assert!(!d.allowed);
    }

    #[test]
    fn the_retry_delay_is_exact() {
        let q = quota(1, 1000);
        let (tat, _) = decide(0, 0, &q);
        let (_, d) = decide(tat, 250_000_000, &q);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_millis(750));
        let (_, d) = decide(tat, 1_000_000_000, &q);
        assert!(d.allowed);
    }

    #[test]
    fn a_request_of_several_units_spends_them_all_or_none() {
        let q = quota(5, 1000);
        let (tat, d) = decide_units(0, 0, &q, 3);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2);
        let (after, d) = decide_units(tat, 0, &q, 3);
        assert!(!d.allowed);
        assert_eq!(after, tat);
        assert_eq!(d.retry_after, Duration::from_secs(1));
        let (_, d) = decide_units(tat, 0, &q, 2);
        assert!(d.allowed && d.remaining == 0);
    }

    #[test]
    fn a_refused_request_does_not_move_the_state() {
        let q = quota(1, 1000);
        let (tat, _) = decide(0, 0, &q);
        let (after, d) = decide(tat, 1, &q);
        assert!(!d.allowed);
        assert_eq!(after, tat);
    }

    #[test]
    fn reset_reports_when_the_bucket_is_full_again() {
        let q = Quota::per_second(NonZeroU32::new(4).unwrap());
        let (_, d) = decide(0, 0, &q);
        assert_eq!(d.reset, Duration::from_millis(250));
    }

    proptest! {
        /// Never more than burst + elapsed / interval admitted, whatever the arrival pattern.
        #[test]
        fn admissions_never_exceed_burst_plus_rate_times_elapsed(
            burst in 1_u32..20,
            interval_ms in 1_u64..500,
            gaps in proptest::collection::vec(0_u64..200_000_000, 1..300),
        ) {
            let q = quota(burst, interval_ms);
            let mut tat = 0;
            let mut now = 1_000_000_000_u64;
            let start = now;
            let mut admitted = 0_u64;
            for gap in gaps {
                now += gap;
                let (next, d) = decide(tat, now, &q);
                tat = next;
                if d.allowed {
                    admitted += 1;
                }
                let bound = u64::from(burst) + (now - start) / q.interval_nanos();
                prop_assert!(admitted <= bound, "{} admitted, bound {}", admitted, bound);
            }
        }

        /// A refused request always states a positive delay after which it passes.
        #[test]
        fn a_refused_request_passes_after_its_retry_delay(burst in 1_u32..10, n in 1_usize..40) {
            let q = quota(burst, 100);
            let mut tat = 0;
            for _ in 0..n {
                tat = decide(tat, 0, &q).0;
            }
            let (_, d) = decide(tat, 0, &q);
            if !d.allowed {
                prop_assert!(d.retry_after > Duration::ZERO);
                let later = u64::try_from(d.retry_after.as_nanos()).unwrap();
                prop_assert!(decide(tat, later, &q).1.allowed);
            }
        }
    }
}
