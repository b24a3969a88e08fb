//! [`Decision`]: a rate limiter's answer for one request.

use std::time::Duration;

/// A rate limiter's answer for one request, with what the rate-limit headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may pass.
    pub allowed: bool,
    /// The burst size of the quota that was applied.
    pub limit: u32,
    /// Requests that could still be made at once after this one.
    pub remaining: u32,
    /// Time until the bucket is full again.
    pub reset: Duration,
    /// For a refused request: the time after which the same request would pass. Zero otherwise.
    pub retry_after: Duration,
}

impl Decision {
    /// `Retry-After` in whole seconds: rounded up, and never 0.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after).max(1)
    }

    /// [`Decision::reset`] in whole seconds, rounded up.
    pub fn reset_secs(&self) -> u64 {
        ceil_secs(self.reset)
    }
}

/// Whole seconds, rounded up; `u64::MAX` for durations whose rounding up would not fit.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_secs_saturates_instead_of_overflowing() {
        assert_eq!(ceil_secs(Duration::MAX), u64::MAX);
        assert_eq!(ceil_secs(Duration::new(1, 1)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(1)), 1);
    }

    fn refused(after: Duration) -> Decision {
        Decision {
            allowed: false,
            limit: 1,
            remaining: 0,
            reset: after,
            retry_after: after,
        }
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        assert_eq!(refused(Duration::from_millis(1001)).retry_after_secs(), 2);
        assert_eq!(refused(Duration::from_secs(3)).retry_after_secs(), 3);
    }

    #[test]
    fn retry_after_is_never_zero() {
        assert_eq!(refused(Duration::from_nanos(1)).retry_after_secs(), 1);
        assert_eq!(refused(Duration::ZERO).retry_after_secs(), 1);
    }
}
