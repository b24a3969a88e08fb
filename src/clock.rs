//! Time sources, injectable so that tests of expiry, rotation grace and rate limits never sleep.
//!
//! ```
//! use std::time::Duration;
//! use keygate::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new();
//! let before = clock.monotonic();
//! clock.advance(Duration::from_secs(5));
//! assert_eq!(clock.monotonic() - before, Duration::from_secs(5));
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// A source of wall-clock time (for expiry and audit times) and monotonic time (for rate limits).
pub trait Clock: Send + Sync + 'static {
    /// The wall-clock time.
    fn now(&self) -> SystemTime;
    /// Time elapsed since an arbitrary fixed origin; never goes backwards.
    fn monotonic(&self) -> Duration;

    /// The wall-clock time, allowed to lag [`now`](Clock::now) by up to one kernel tick
    /// (1–10 ms), for checks that need no finer grain: expiry, rotation grace and last use.
    /// The request path reads this one, which costs a few nanoseconds, so that its only
    /// precise clock read is the rate limiter's. The default is [`now`](Clock::now).
    fn coarse_now(&self) -> SystemTime {
        self.now()
    }
}

/// The operating system's clocks.
#[derive(Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A system clock whose monotonic origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemClock")
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }

    /// On Linux, `CLOCK_REALTIME_COARSE` (read from the vDSO, no system call).
    #[cfg(target_os = "linux")]
    fn coarse_now(&self) -> SystemTime {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        match (u64::try_from(t.tv_sec), u32::try_from(t.tv_nsec)) {
            (Ok(secs), Ok(nanos)) => SystemTime::UNIX_EPOCH + Duration::new(secs, nanos),
            // Before 1970: not a clock to be coarse about.
            _ => SystemTime::now(),
        }
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Clone)]
pub struct ManualClock {
    wall_start: SystemTime,
    elapsed_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock starting at the current wall-clock time.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A manual clock starting at `start`.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            wall_start: start,
            elapsed_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.monotonic())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.wall_start + self.monotonic()
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }

    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }

    fn coarse_now(&self) -> SystemTime {
        (**self).coarse_now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_system_clock_never_runs_ahead_and_lags_by_less_than_a_tick() {
        let clock = SystemClock::new();
        for _ in 0..1000 {
            let before = clock.now();
            let coarse = clock.coarse_now();
            let after = clock.now();
            assert!(coarse <= after, "{coarse:?} is ahead of {after:?}");
            let lag = before.duration_since(coarse).unwrap_or_default();
            assert!(lag < Duration::from_millis(50), "lags by {lag:?}");
        }
    }

    #[test]
    fn a_manual_clock_is_as_coarse_as_it_is_precise() {
        let clock = ManualClock::new();
        clock.advance(Duration::from_millis(3));
        assert_eq!(clock.coarse_now(), clock.now());
        assert_eq!(Arc::new(clock.clone()).coarse_now(), clock.now());
    }
}
