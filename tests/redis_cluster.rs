//! The Redis limiters on a real 3-master Redis Cluster (`KEYGATE_TEST_REDIS_CLUSTER_URLS`,
//! started by `scripts/services.sh start`): one limit shared by two instances, every script
//! (checks, refunds, plans' rates, quotas and credits, per key and shared by a workspace), and
//! where a plan's counters live.

mod common;
mod conformance;
mod redis_cluster_common;
mod redis_common;
mod shared_limit;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use keygate::clock::ManualClock;
use keygate::key::KeyId;
use keygate::limit::lease::{LeaseConfig, LeasedLimiter};
use keygate::limit::redis::RedisUsageLimiter;
use keygate::plan::{Limit, Period, Plan, Sharing, Usage};
use keygate::{Quota, RateLimiter, Workspace};
use redis_cluster_common::{cluster_urls, node, rate_limiter, usage_limiter};
use redis_common::{fresh_namespace, name, noon, plan};

/// A usage limiter on the cluster in a namespace of its own, at noon on a manual clock.
async fn usage() -> Option<RedisUsageLimiter> {
    let urls = cluster_urls()?;
    let clock = ManualClock::starting_at(noon());
    Some(usage_limiter(&urls, &fresh_namespace(), &clock).await)
}

fn fresh_key() -> KeyId {
    KeyId::random().unwrap()
}

/// Whether `limiter` admits one request of `key` in `ws` under `p`.
async fn admitted(limiter: &RedisUsageLimiter, key: &KeyId, ws: &Workspace, p: &Plan) -> bool {
    limiter
        .admit(&Usage::new(key, ws, p))
        .await
        .unwrap()
        .allowed()
}

#[tokio::test]
async fn two_instances_of_a_service_on_a_cluster_enforce_one_combined_limit() {
    let Some(urls) = cluster_urls() else {
        return;
    };
    let namespace = fresh_namespace();
    let timeout = Duration::from_secs(2);
    let a = rate_limiter(&urls, &namespace, timeout).await;
    let b = rate_limiter(&urls, &namespace, timeout).await;
    shared_limit::two_instances_enforce_one_combined_limit(a, b).await;
}

#[tokio::test]
async fn a_refunded_check_gives_its_unit_back_on_a_cluster() {
    let Some(urls) = cluster_urls() else {
        return;
    };
    let limiter = rate_limiter(&urls, &fresh_namespace(), Duration::from_secs(2)).await;
    let (id, q) = (fresh_key(), Quota::new(1, Duration::from_secs(60)).unwrap());
    assert!(limiter.check(&id, &q).await.unwrap().allowed);
    assert!(!limiter.check(&id, &q).await.unwrap().allowed);
    limiter.refund(&id, &q);
    // The refund runs on a task of its own: a refused check spends nothing, so poll.
    for _ in 0..100 {
        if limiter.check(&id, &q).await.unwrap().allowed {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the refunded unit never came back");
}

/// Leases of 10 units for every key from its first request (no cold path).
fn leasing() -> LeaseConfig {
    LeaseConfig::default().batch(10).hot_after(0)
}

#[tokio::test]
async fn leases_of_a_rate_are_taken_and_given_back_on_a_cluster() {
    let Some(urls) = cluster_urls() else {
        return;
    };
    let namespace = fresh_namespace();
    let plain = rate_limiter(&urls, &namespace, Duration::from_secs(2)).await;
    let leased = LeasedLimiter::new(plain.clone(), leasing()).unwrap();
    // One unit every 30 s: none comes back while the test runs.
    let (id, q) = (
        fresh_key(),
        Quota::new(20, Duration::from_secs(600)).unwrap(),
    );
    for _ in 0..5 {
        assert!(leased.check(&id, &q).await.unwrap().allowed);
    }
    assert!(leased.held() > 0, "no lease was taken");
    leased.shutdown().await;
    let mut left = 0;
    while plain.check(&id, &q).await.unwrap().allowed {
        left += 1;
    }
    assert_eq!(
        left, 15,
        "the unspent units of the lease were not given back"
    );
}

#[tokio::test]
async fn leases_of_a_plan_are_taken_and_given_back_on_a_cluster() {
    let Some(urls) = cluster_urls() else {
        return;
    };
    let plain = rate_limiter(&urls, &fresh_namespace(), Duration::from_secs(2)).await;
    let leased = LeasedLimiter::new(plain.clone(), leasing()).unwrap();
    let p = plan(vec![Limit::quota(name("daily"), 20, Period::Day)]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    for _ in 0..5 {
        assert!(
            leased
                .admit(&Usage::new(&key, &ws, &p))
                .await
                .unwrap()
                .allowed()
        );
    }
    assert!(leased.held() > 0, "no lease was taken");
    leased.shutdown().await;
    let mut left = 0;
    while admitted(plain.usage(), &key, &ws, &p).await {
        left += 1;
    }
    assert_eq!(
        left, 15,
        "the unspent units of the lease were not given back"
    );
}

#[tokio::test]
async fn a_workspace_limit_and_a_key_limit_are_decided_together_on_a_cluster() {
    let Some(limiter) = usage().await else {
        return;
    };
    let p = plan(vec![
        Limit::quota(name("per-key"), 2, Period::Day),
        Limit::quota(name("shared"), 3, Period::Day).shared_by(Sharing::Workspace),
    ]);
    let (a, b, c) = (fresh_key(), fresh_key(), fresh_key());
    let (acme, other) = (name::<Workspace>("acme"), name::<Workspace>("other"));
    for (key, expected) in [(&a, true), (&a, true), (&a, false), (&b, true)] {
        assert_eq!(admitted(&limiter, key, &acme, &p).await, expected);
    }
    let refused = limiter.admit(&Usage::new(&c, &acme, &p)).await.unwrap();
    assert_eq!(refused.refused_by().unwrap().name().as_str(), "shared");
    assert!(admitted(&limiter, &c, &other, &p).await);
}

#[tokio::test]
async fn a_rate_in_a_plan_admits_its_burst_then_refuses_with_a_retry_time_on_a_cluster() {
    let Some(limiter) = usage().await else {
        return;
    };
    let burst = Quota::new(3, Duration::from_secs(60)).unwrap();
    let p = plan(vec![Limit::rate(name("burst"), burst)]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    for _ in 0..3 {
        assert!(admitted(&limiter, &key, &ws, &p).await);
    }
    let refused = limiter.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
    let (_, state) = refused.limits().next().unwrap();
    assert!(!refused.allowed());
    assert!(state.retry_after.unwrap() > Duration::from_secs(50));
}

#[tokio::test]
async fn shared_credits_are_spent_topped_up_and_read_on_a_cluster() {
    let Some(limiter) = usage().await else {
        return;
    };
    let credits = Limit::credits(name("credits"), 2, None).shared_by(Sharing::Workspace);
    let p = plan(vec![credits.clone()]);
    let (a, b, ws) = (fresh_key(), fresh_key(), name::<Workspace>("acme"));
    assert!(admitted(&limiter, &a, &ws, &p).await);
    assert!(admitted(&limiter, &b, &ws, &p).await);
    assert!(!admitted(&limiter, &a, &ws, &p).await);
    assert_eq!(limiter.top_up(&b, &ws, &credits, 5).await.unwrap(), Some(5));
    assert!(admitted(&limiter, &a, &ws, &p).await);
    assert_eq!(limiter.credits(&a, &ws, &credits).await.unwrap(), Some(4));
}

#[tokio::test]
async fn a_refund_gives_a_quota_its_units_back_on_a_cluster() {
    let Some(limiter) = usage().await else {
        return;
    };
    let p = plan(vec![Limit::quota(name("daily"), 1, Period::Day)]);
    let (key, ws) = (fresh_key(), name::<Workspace>("acme"));
    let spent = limiter.admit(&Usage::new(&key, &ws, &p)).await.unwrap();
    assert!(spent.allowed());
    assert!(!admitted(&limiter, &key, &ws, &p).await);
    let usage = Usage::new(&key, &ws, &p);
    limiter.refund(&usage, spent.counted_at()).await.unwrap();
    assert!(admitted(&limiter, &key, &ws, &p).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_racing_for_a_shared_quota_on_a_cluster_admit_exactly_its_maximum() {
    let Some(urls) = cluster_urls() else {
        return;
    };
    let (namespace, clock) = (fresh_namespace(), ManualClock::starting_at(noon()));
    let p = plan(vec![
        Limit::quota(name("daily"), 60, Period::Day).shared_by(Sharing::Workspace),
    ]);
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let limiter = usage_limiter(&urls, &namespace, &clock).await;
        for _ in 0..8 {
            let (limiter, p, key) = (limiter.clone(), p.clone(), fresh_key());
            racing.spawn(async move {
                let ws = name::<Workspace>("acme");
                let mut admissions = 0;
                for _ in 0..10 {
                    admissions += usize::from(admitted(&limiter, &key, &ws, &p).await);
                }
                admissions
            });
        }
    }
    let total: usize = racing.join_all().await.into_iter().sum();
    assert_eq!(total, 60);
}

#[tokio::test]
async fn a_workspaces_counters_share_one_master_and_workspaces_spread_over_every_master() {
    let Some(urls) = cluster_urls() else {
        return;
    };
    let namespace = fresh_namespace();
    let limiter = usage_limiter(&urls, &namespace, &ManualClock::starting_at(noon())).await;
    let p = plan(vec![
        Limit::quota(name("per-key"), 5, Period::Day),
        Limit::credits(name("shared"), 5, None).shared_by(Sharing::Workspace),
    ]);
    let workspaces: Vec<Workspace> = (0..40).map(|i| name(&format!("ws-{i}"))).collect();
    for ws in &workspaces {
        for key in [fresh_key(), fresh_key()] {
            assert!(admitted(&limiter, &key, ws, &p).await);
        }
    }
    // Each node's own keys of this namespace, by workspace (the text between the braces).
    let mut masters_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for url in &urls {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{namespace}*"))
            .query_async(&mut node(url).await)
            .await
            .unwrap();
        assert!(!keys.is_empty(), "no workspace counted on {url}");
        for key in keys {
            let ws = key.split(['{', '}']).nth(1).unwrap().to_owned();
            masters_of.entry(ws).or_default().insert(url.clone());
        }
    }
    assert_eq!(masters_of.len(), workspaces.len());
    for (ws, masters) in &masters_of {
        assert_eq!(masters.len(), 1, "{ws}'s counters lie on {masters:?}");
    }
}
