//! [`CreditLedger`]: read and top up credits balances, whichever limiter keeps them.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Limit, MemoryUsageLimiter};
use crate::MemoryRateLimiter;
use crate::clock::Clock;
use crate::key::KeyId;
use crate::limit::LimiterError;
use crate::workspace::Workspace;

/// Where credits balances are kept: the limiter that spends them, seen from outside the
/// request path (the admin API's `/keys/{id}/credits` routes, an operator's tool).
///
/// Implemented by every limiter that decides credits: [`MemoryUsageLimiter`],
/// [`MemoryRateLimiter`] (the counters of its keys under a plan), and with the `redis`
/// feature [`RedisUsageLimiter`](crate::limit::redis::RedisUsageLimiter) and
/// [`RedisRateLimiter`](crate::limit::redis::RedisRateLimiter) (through its
/// [`usage`](crate::limit::redis::RedisRateLimiter::usage) limiter); and by `Arc` of any of
/// them. Give it a clone of the limiter the layer runs: clones share their counters, so what
/// the ledger reads is what requests spend.
///
/// Object safe: `Arc<dyn CreditLedger>` holds any of them. A limiter in another process
/// (Redis) answers within its timeout, with [`LimiterError::Timeout`] or
/// [`LimiterError::Unavailable`], never hanging.
///
/// ```
/// use keygate::key::KeyId;
/// use keygate::plan::{CreditLedger, Limit, MemoryUsageLimiter, Usage, Plan};
/// use keygate::Workspace;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let credits = Limit::credits("credits".parse().unwrap(), 2, None);
/// let prepaid = Plan::new("prepaid".parse().unwrap(), vec![credits.clone()]).unwrap();
/// let limiter = MemoryUsageLimiter::new();
/// let ledger: &dyn CreditLedger = &limiter;
/// let (key, acme) = (KeyId::new("AbCdEfGh1234").unwrap(), Workspace::new("acme").unwrap());
///
/// assert!(limiter.admit(&Usage::new(&key, &acme, &prepaid)).allowed());
/// assert_eq!(ledger.balance(&key, &acme, &credits).await.unwrap(), Some(1));
/// assert_eq!(ledger.top_up(&key, &acme, &credits, 500).await.unwrap(), Some(501));
/// # });
/// ```
#[async_trait]
pub trait CreditLedger: Send + Sync {
    /// The balance of credits `limit` for key `key` of `workspace` (the workspace's balance
    /// for a limit shared by the workspace), refills applied; nothing is written.
    /// `Ok(None)` if `limit` is not a credits limit.
    async fn balance(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
    ) -> Result<Option<u64>, LimiterError>;

    /// Adds `amount` credits to `limit`'s balance for key `key` of `workspace` (the
    /// workspace's balance for a shared limit), refills applied first, and returns the new
    /// balance (held at the limiter's largest balance rather than overflowing). `Ok(None)`,
    /// and nothing changed, if `limit` is not a credits limit.
    async fn top_up(
        &self,
        key: &KeyId,
        workspace: &Workspace,
        limit: &Limit,
        amount: u64,
    ) -> Result<Option<u64>, LimiterError>;
}

/// An implementation of [`CreditLedger`] whose two methods are the two expressions given,
/// over `self` and the arguments named in `|…|`.
macro_rules! ledger {
    (
        $(#[$attr:meta])*
        impl[$($generics:tt)*] for $ty:ty, |$this:ident, $key:ident, $ws:ident, $limit:ident, $amount:ident| {
            balance: $balance:expr,
            top_up: $top_up:expr $(,)?
        }
    ) => {
        $(#[$attr])*
        #[async_trait]
        impl<$($generics)*> CreditLedger for $ty {
            async fn balance(
                &self,
                $key: &KeyId,
                $ws: &Workspace,
                $limit: &Limit,
            ) -> Result<Option<u64>, LimiterError> {
                let $this = self;
                $balance
            }

            async fn top_up(
                &self,
                $key: &KeyId,
                $ws: &Workspace,
                $limit: &Limit,
                $amount: u64,
            ) -> Result<Option<u64>, LimiterError> {
                let $this = self;
                $top_up
            }
        }
    };
}

ledger!(impl[T: CreditLedger + ?Sized] for Arc<T>, |this, key, workspace, limit, amount| {
    balance: (**this).balance(key, workspace, limit).await,
    top_up: (**this).top_up(key, workspace, limit, amount).await,
});

ledger!(
    /// Its inherent `credits` / `top_up`, which never fail.
    impl[C: Clock] for MemoryUsageLimiter<C>, |this, key, workspace, limit, amount| {
        balance: Ok(this.credits(key, workspace, limit)),
        top_up: Ok(MemoryUsageLimiter::top_up(this, key, workspace, limit, amount)),
    }
);

ledger!(
    /// The counters of its keys under a plan: its inherent `credits` / `top_up`, which never
    /// fail.
    impl[C: Clock] for MemoryRateLimiter<C>, |this, key, workspace, limit, amount| {
        balance: Ok(this.credits(key, workspace, limit)),
        top_up: Ok(MemoryRateLimiter::top_up(this, key, workspace, limit, amount)),
    }
);

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use crate::limit::redis::{RedisRateLimiter, RedisUsageLimiter};

    ledger!(
        /// Each call one script in Redis, bounded by the limiter's timeout.
        impl[] for RedisUsageLimiter, |this, key, workspace, limit, amount| {
            balance: this.credits(key, workspace, limit).await,
            top_up: RedisUsageLimiter::top_up(this, key, workspace, limit, amount).await,
        }
    );

    ledger!(
        /// The balances its [`usage`](RedisRateLimiter::usage) limiter keeps: those the
        /// layer's requests under a plan spend.
        impl[] for RedisRateLimiter, |this, key, workspace, limit, amount| {
            balance: this.usage().balance(key, workspace, limit).await,
            top_up: CreditLedger::top_up(this.usage(), key, workspace, limit, amount).await,
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RateLimiter;
    use crate::plan::{Plan, Usage};
    use crate::quota::Quota;

    fn key() -> KeyId {
        KeyId::new("AbCdEfGh1234").unwrap()
    }

    fn acme() -> Workspace {
        Workspace::new("acme").unwrap()
    }

    fn credits(initial: u64) -> Limit {
        Limit::credits("credits".parse().unwrap(), initial, None)
    }

    fn plan(limits: Vec<Limit>) -> Plan {
        Plan::new("prepaid".parse().unwrap(), limits).unwrap()
    }

    #[tokio::test]
    async fn the_rate_limiters_ledger_reads_what_its_requests_spent() {
        let limiter = MemoryRateLimiter::new();
        let ledger: Arc<dyn CreditLedger> = Arc::new(limiter.clone());
        let prepaid = plan(vec![credits(3)]);
        let (key, acme) = (key(), acme());
        let usage = Usage::new(&key, &acme, &prepaid);
        assert!(limiter.admit(&usage).await.unwrap().allowed());
        let limit = &prepaid.limits()[0];
        assert_eq!(ledger.balance(&key, &acme, limit).await.unwrap(), Some(2));
    }

    #[tokio::test]
    async fn a_top_up_lets_a_key_at_zero_pass_again() {
        let limiter = MemoryUsageLimiter::new();
        let ledger = Arc::new(limiter.clone());
        let prepaid = plan(vec![credits(1)]);
        let (key, acme) = (key(), acme());
        let usage = Usage::new(&key, &acme, &prepaid);
        assert!(limiter.admit(&usage).allowed());
        assert!(!limiter.admit(&usage).allowed());
        let limit = &prepaid.limits()[0];
        assert_eq!(ledger.top_up(&key, &acme, limit, 2).await.unwrap(), Some(2));
        assert!(limiter.admit(&usage).allowed());
        assert_eq!(ledger.balance(&key, &acme, limit).await.unwrap(), Some(1));
    }

    #[tokio::test]
    async fn a_limit_that_is_not_credits_has_no_balance_and_takes_no_top_up() {
        let ledger = MemoryRateLimiter::new();
        let burst = Limit::rate(
            "burst".parse().unwrap(),
            Quota::new(5, std::time::Duration::from_secs(1)).unwrap(),
        );
        assert_eq!(ledger.balance(&key(), &acme(), &burst).await.unwrap(), None);
        let topped = CreditLedger::top_up(&ledger, &key(), &acme(), &burst, 9).await;
        assert_eq!(topped.unwrap(), None);
    }
}
