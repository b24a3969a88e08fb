//! Checks every rate limiter must pass. Quotas refill slowly (seconds per request) so that
//! the time the test itself takes cannot change a decision.

use std::time::Duration;

use keygate::key::KeyId;
use keygate::limit::gcra;
use keygate::{Quota, RateLimiter};

fn quota(burst: u32, interval_secs: u64) -> Quota {
    Quota::new(burst, Duration::from_secs(interval_secs)).unwrap()
}

fn fresh() -> KeyId {
    KeyId::random().unwrap()
}

pub async fn fresh_key_gets_its_burst_then_is_refused_with_the_exact_delay<L: RateLimiter>(
    limiter: L,
) {
    let id = fresh();
    let q = quota(3, 10);
    for remaining in [2, 1, 0] {
        let d = limiter.check(&id, &q).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, remaining);
        assert_eq!(d.limit, 3);
    }
    let refused = limiter.check(&id, &q).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert!(refused.retry_after > Duration::from_secs(9), "{refused:?}");
    assert!(
        refused.retry_after <= Duration::from_secs(10),
        "{refused:?}"
    );
    assert_eq!(refused.retry_after_secs(), 10);
}

pub async fn keys_are_limited_independently<L: RateLimiter>(limiter: L) {
    let (a, b) = (fresh(), fresh());
    let q = quota(1, 60);
    assert!(limiter.check(&a, &q).await.unwrap().allowed);
    assert!(!limiter.check(&a, &q).await.unwrap().allowed);
    assert!(limiter.check(&b, &q).await.unwrap().allowed);
}

pub async fn keys_on_different_quotas_share_one_limiter<L: RateLimiter>(limiter: L) {
    let (small, large) = (fresh(), fresh());
    let (qs, ql) = (quota(1, 60), quota(4, 60));
    assert!(limiter.check(&small, &qs).await.unwrap().allowed);
    assert!(!limiter.check(&small, &qs).await.unwrap().allowed);
    for _ in 0..4 {
        assert!(limiter.check(&large, &ql).await.unwrap().allowed);
    }
    assert!(!limiter.check(&large, &ql).await.unwrap().allowed);
}

pub async fn refused_requests_spend_nothing<L: RateLimiter>(limiter: L) {
    let id = fresh();
    let q = quota(1, 10);
    limiter.check(&id, &q).await.unwrap();
    let first = limiter.check(&id, &q).await.unwrap();
    for _ in 0..20 {
        let again = limiter.check(&id, &q).await.unwrap();
        assert!(!again.allowed);
        assert!(
            again.retry_after <= first.retry_after,
            "{again:?} after {first:?}"
        );
    }
}

pub async fn decisions_match_the_gcra_reference<L: RateLimiter>(limiter: L) {
    for (burst, interval) in [(1, 30), (2, 30), (5, 20), (7, 60)] {
        let id = fresh();
        let q = quota(burst, interval);
        let mut tat = 0;
        for _ in 0..(burst + 3) {
            let (next, expected) = gcra::decide(tat, 1, &q);
            tat = next;
            let got = limiter.check(&id, &q).await.unwrap();
            assert_eq!(got.allowed, expected.allowed, "burst {burst}");
            assert_eq!(got.remaining, expected.remaining, "burst {burst}");
            assert_eq!(got.limit, expected.limit);
            assert_eq!(got.retry_after_secs(), expected.retry_after_secs());
        }
    }
}

pub async fn reset_reports_the_time_until_the_bucket_is_full<L: RateLimiter>(limiter: L) {
    let id = fresh();
    let q = quota(2, 5);
    let first = limiter.check(&id, &q).await.unwrap();
    assert!(first.reset <= Duration::from_secs(5) && first.reset > Duration::from_secs(4));
    let second = limiter.check(&id, &q).await.unwrap();
    assert!(second.reset <= Duration::from_secs(10) && second.reset > Duration::from_secs(9));
}
