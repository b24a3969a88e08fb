//! [`Quota`]: how many requests a key may make.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

/// A rate limit in GCRA terms: a burst of `burst` requests, refilled at one request per
/// `interval`.
///
/// `Quota::per_second(n)` allows `n` requests at once and `n` per second on average;
/// `allow_burst` changes the burst without changing the rate.
///
/// # Bounds and precision
///
/// The interval is kept in nanoseconds and must be between 1 µs and 365 days: a rate is at
/// most one request per microsecond (1,000,000 per second, 60,000,000 per minute,
/// 3,600,000,000 per hour). A rate above that is refused, never lowered:
/// [`Quota::try_per_second`] and its siblings return [`QuotaError::RateTooHigh`], and
/// [`Quota::per_second`] and its siblings panic, as a programming error (use the `try_`
/// forms for rates read from input). `per_second(n)` keeps `1 s / n` rounded down to a
/// nanosecond (`per_second(3)`: 333,333,333 ns).
///
/// Key stores keep a per-key quota's interval in whole microseconds, and refuse one with a
/// sub-microsecond part ([`StoreError::Invalid`](crate::StoreError::Invalid)) rather than
/// store a different rate; see [`Quota::is_whole_micros`].
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use keygate::Quota;
///
/// // The quickstart's demo plan: a burst of 5, then 1 request per second.
/// let demo = Quota::per_second(NonZeroU32::new(1).unwrap())
///     .allow_burst(NonZeroU32::new(5).unwrap());
/// assert_eq!(demo.burst(), 5);
/// assert_eq!(demo.interval(), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    burst: NonZeroU32,
    interval_nanos: u64,
}

/// Why a quota is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaError {
    /// A burst of zero would refuse every request.
    #[error("a quota's burst must be at least 1")]
    ZeroBurst,
    /// The refill interval must be between 1 microsecond and one year.
    #[error("a quota's refill interval must be between 1 microsecond and 365 days")]
    IntervalOutOfRange,
    /// More than one request per microsecond (e.g. `per_second` above 1,000,000).
    #[error("a quota allows at most one request per microsecond (1,000,000 per second)")]
    RateTooHigh,
}

const MIN_INTERVAL_NANOS: u64 = 1_000;
const MAX_INTERVAL_NANOS: u64 = 365 * 24 * 3600 * 1_000_000_000;

impl Quota {
    /// A quota from its parts: `burst` requests at once, one more every `interval`.
    pub fn new(burst: u32, interval: Duration) -> Result<Self, QuotaError> {
        let burst = NonZeroU32::new(burst).ok_or(QuotaError::ZeroBurst)?;
        let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        if !(MIN_INTERVAL_NANOS..=MAX_INTERVAL_NANOS).contains(&nanos) {
            return Err(QuotaError::IntervalOutOfRange);
        }
        Ok(Self {
            burst,
            interval_nanos: nanos,
        })
    }

    fn try_per(period: Duration, n: NonZeroU32) -> Result<Self, QuotaError> {
        let nanos = u64::try_from(period.as_nanos() / u128::from(n.get())).unwrap_or(u64::MAX);
        if nanos < MIN_INTERVAL_NANOS {
            return Err(QuotaError::RateTooHigh);
        }
        Ok(Self {
            burst: n,
            interval_nanos: nanos,
        })
    }

    #[track_caller]
    fn per(period: Duration, n: NonZeroU32, try_name: &str) -> Self {
        match Self::try_per(period, n) {
            Ok(quota) => quota,
            Err(e) => panic!("{e}: {n} per {period:?} is too many; use Quota::{try_name}"),
        }
    }

    /// `n` requests per second, all of them available at once.
    ///
    /// # Panics
    ///
    /// If `n` is above 1,000,000 (more than one request per microsecond): see
    /// [`Quota::try_per_second`].
    #[track_caller]
    pub fn per_second(n: NonZeroU32) -> Self {
        Self::per(Duration::from_secs(1), n, "try_per_second")
    }

    /// `n` requests per minute, all of them available at once.
    ///
    /// # Panics
    ///
    /// If `n` is above 60,000,000: see [`Quota::try_per_minute`].
    #[track_caller]
    pub fn per_minute(n: NonZeroU32) -> Self {
        Self::per(Duration::from_secs(60), n, "try_per_minute")
    }

    /// `n` requests per hour, all of them available at once.
    ///
    /// # Panics
    ///
    /// If `n` is above 3,600,000,000: see [`Quota::try_per_hour`].
    #[track_caller]
    pub fn per_hour(n: NonZeroU32) -> Self {
        Self::per(Duration::from_secs(3600), n, "try_per_hour")
    }

    /// `n` requests per second, or [`QuotaError::RateTooHigh`] above 1,000,000.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use keygate::{Quota, QuotaError};
    ///
    /// let n = |n| NonZeroU32::new(n).unwrap();
    /// assert!(Quota::try_per_second(n(1_000_000)).is_ok());
    /// assert_eq!(Quota::try_per_second(n(2_000_000)), Err(QuotaError::RateTooHigh));
    /// ```
    pub fn try_per_second(n: NonZeroU32) -> Result<Self, QuotaError> {
        Self::try_per(Duration::from_secs(1), n)
    }

    /// `n` requests per minute, or [`QuotaError::RateTooHigh`] above 60,000,000.
    pub fn try_per_minute(n: NonZeroU32) -> Result<Self, QuotaError> {
        Self::try_per(Duration::from_secs(60), n)
    }

    /// `n` requests per hour, or [`QuotaError::RateTooHigh`] above 3,600,000,000.
    pub fn try_per_hour(n: NonZeroU32) -> Result<Self, QuotaError> {
        Self::try_per(Duration::from_secs(3600), n)
    }

    /// The same rate with another burst size.
    pub fn allow_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    /// The largest number of requests admitted at once.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }

    /// The time in which one more request becomes available.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos)
    }

    /// [`Quota::interval`] in nanoseconds.
    pub fn interval_nanos(&self) -> u64 {
        self.interval_nanos
    }

    /// Whether the interval is a whole number of microseconds, as key stores keep it (any
    /// interval in µs, ms or s; `per_second(n)` for `n` dividing 1,000,000).
    pub fn is_whole_micros(&self) -> bool {
        self.interval_nanos.is_multiple_of(1_000)
    }

    /// The time an empty bucket takes to refill completely (`burst × interval`).
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window_nanos())
    }

    /// [`Quota::window`] in nanoseconds.
    pub fn window_nanos(&self) -> u64 {
        self.interval_nanos
            .saturating_mul(u64::from(self.burst.get()))
    }
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quota")
            .field("burst", &self.burst.get())
            .field("interval", &self.interval())
            .finish()
    }
}

impl fmt::Display for Quota {
    /// `burst 5, then 1 per 1s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "burst {}, then 1 per {:?}",
            self.burst.get(),
            self.interval()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_minute_spreads_the_rate_over_the_minute() {
        let q = Quota::per_minute(NonZeroU32::new(60).unwrap());
        assert_eq!(q.interval(), Duration::from_secs(1));
        assert_eq!(q.burst(), 60);
        assert_eq!(q.window(), Duration::from_secs(60));
    }

    #[test]
    fn rates_above_one_per_microsecond_are_refused_not_lowered() {
        let n = |n: u32| NonZeroU32::new(n).unwrap();
        assert_eq!(
            Quota::try_per_second(n(1_000_000)).unwrap().interval(),
            Duration::from_micros(1)
        );
        assert_eq!(
            Quota::try_per_second(n(1_000_001)),
            Err(QuotaError::RateTooHigh)
        );
        assert_eq!(
            Quota::try_per_second(n(u32::MAX)),
            Err(QuotaError::RateTooHigh)
        );
        assert_eq!(
            Quota::try_per_minute(n(60_000_001)),
            Err(QuotaError::RateTooHigh)
        );
        assert_eq!(
            Quota::try_per_hour(n(3_600_000_001)),
            Err(QuotaError::RateTooHigh)
        );
        assert_eq!(
            Quota::try_per_hour(n(3_600_000_000)).unwrap().interval(),
            Duration::from_micros(1)
        );
    }

    #[test]
    #[should_panic(expected = "try_per_second")]
    fn per_second_above_a_million_panics_instead_of_lowering_the_rate() {
        let _ = Quota::per_second(NonZeroU32::new(2_000_000).unwrap());
    }

    #[test]
    fn zero_burst_and_absurd_intervals_are_refused() {
        assert_eq!(
            Quota::new(0, Duration::from_secs(1)),
            Err(QuotaError::ZeroBurst)
        );
        assert_eq!(
            Quota::new(1, Duration::ZERO),
            Err(QuotaError::IntervalOutOfRange)
        );
        assert_eq!(
            Quota::new(1, Duration::from_secs(400 * 24 * 3600)),
            Err(QuotaError::IntervalOutOfRange)
        );
    }
}
