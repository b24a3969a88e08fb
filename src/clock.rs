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
}
