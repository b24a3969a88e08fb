//! [`LeaseConfig`]: when a key takes leases, how large they are, and how long they are held.

use std::time::Duration;

use crate::plan::MAX_COST;

/// The settings of a [`LeasedLimiter`](super::LeasedLimiter).
///
/// | setting | default |
/// |---|---|
/// | [`batch`](Self::batch) | 100 units per lease (2 to 1,000,000) |
/// | [`hot_after`](Self::hot_after) | 50 requests within one second on this node |
/// | [`lease_ttl`](Self::lease_ttl) | 1 s |
/// | [`credits`](Self::credits) | off: plans with a credits limit are never leased |
///
/// ```
/// use std::time::Duration;
/// use keygate::limit::lease::LeaseConfig;
///
/// let config = LeaseConfig::default()
///     .batch(200)
///     .hot_after(100)
///     .lease_ttl(Duration::from_millis(500));
/// assert_eq!(config.batch, 200);
/// assert!(config.validate().is_ok());
/// assert!(LeaseConfig::default().batch(1).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// The most units one lease takes from Redis: the number of requests a hot key makes per
    /// Redis call, and the most one node may hold unspent per key.
    pub batch: u32,
    /// A key takes leases only after this many requests within one second on this node (and
    /// keeps taking them through the next second); until then (a cold key) each request is
    /// one exact Redis call. 0: every key leases.
    pub hot_after: u32,
    /// Unspent units of a lease older than this are given back to Redis.
    pub lease_ttl: Duration,
    /// Whether plans with a credits limit are leased (off by default: a crashed node's unspent
    /// credits are lost, see [the module docs](super#what-a-crash-costs)).
    pub credits: bool,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            batch: 100,
            hot_after: 50,
            lease_ttl: Duration::from_secs(1),
            credits: false,
        }
    }
}

/// Why a [`LeaseConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidLeaseConfig {
    /// A batch below 2 (a lease of one unit is a plain check) or above 1,000,000.
    #[error("a lease batch is 2 to 1000000 units (got {0})")]
    Batch(u32),
    /// A lease time-to-live of zero.
    #[error("a lease time-to-live must be greater than zero")]
    Ttl,
}

impl LeaseConfig {
    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`batch`](Self::batch).
    pub fn batch(mut self, batch: u32) -> Self {
        self.batch = batch;
        self
    }

    /// Sets [`hot_after`](Self::hot_after).
    pub fn hot_after(mut self, requests: u32) -> Self {
        self.hot_after = requests;
        self
    }

    /// Sets [`lease_ttl`](Self::lease_ttl).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets [`credits`](Self::credits).
    pub fn credits(mut self, lease_credits: bool) -> Self {
        self.credits = lease_credits;
        self
    }

    /// Checks the settings: a batch of 2 to 1,000,000 units, a time-to-live above zero.
    pub fn validate(&self) -> Result<(), InvalidLeaseConfig> {
        if !(2..=MAX_COST).contains(&self.batch) {
            return Err(InvalidLeaseConfig::Batch(self.batch));
        }
        if self.lease_ttl.is_zero() {
            return Err(InvalidLeaseConfig::Ttl);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_a_batch_of_100_after_50_requests_held_one_second() {
        let config = LeaseConfig::default();
        assert_eq!(
            (
                config.batch,
                config.hot_after,
                config.lease_ttl,
                config.credits
            ),
            (100, 50, Duration::from_secs(1), false)
        );
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn a_batch_below_two_or_above_the_largest_cost_is_refused() {
        for batch in [0, 1, MAX_COST + 1] {
            assert_eq!(
                LeaseConfig::new().batch(batch).validate(),
                Err(InvalidLeaseConfig::Batch(batch))
            );
        }
        assert!(LeaseConfig::new().batch(2).validate().is_ok());
        assert!(LeaseConfig::new().batch(MAX_COST).validate().is_ok());
    }

    #[test]
    fn a_zero_time_to_live_is_refused() {
        assert_eq!(
            LeaseConfig::new().lease_ttl(Duration::ZERO).validate(),
            Err(InvalidLeaseConfig::Ttl)
        );
    }
}
