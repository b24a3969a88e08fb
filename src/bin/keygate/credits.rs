//! `keygate credits`: a key's credits balance, in the Redis the service's limiter counts in.

use keygate::Workspace;
use keygate::key::{KeyId, KeyPrefix};
use keygate::plan::{Limit, LimitKind, LimitName, Plan};

use crate::failure::{Exit, Failure};

/// Where the service's limiter keeps plans' counters (read only with the `redis` feature).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub struct Target<'a> {
    pub url: &'a str,
    pub namespace: &'a str,
    pub prefix: &'a KeyPrefix,
}

/// The credits limit of `plan` called `name`, or its only one.
pub fn limit_of<'p>(plan: &'p Plan, name: Option<&LimitName>) -> Result<&'p Limit, Failure> {
    let credits: Vec<&Limit> = plan
        .limits()
        .iter()
        .filter(|l| matches!(l.kind(), LimitKind::Credits { .. }))
        .filter(|l| name.is_none_or(|n| l.name() == n))
        .collect();
    match (credits.as_slice(), name) {
        ([one], _) => Ok(one),
        ([], Some(name)) => Err(Failure::new(
            Exit::Refused,
            format!("the plan {} has no credits limit named {name}", plan.name()),
        )),
        ([], None) => Err(Failure::new(
            Exit::Refused,
            format!("the plan {} has no credits limit", plan.name()),
        )),
        (_, _) => Err(Failure::new(
            Exit::Invalid,
            format!(
                "the plan {} has several credits limits: name one with --limit",
                plan.name()
            ),
        )),
    }
}

/// The balance after adding `add` (if given), or as it stands.
#[cfg(feature = "redis")]
pub async fn balance(
    target: &Target<'_>,
    id: &KeyId,
    workspace: &Workspace,
    limit: &Limit,
    add: Option<u64>,
) -> Result<u64, Failure> {
    use keygate::limit::redis::RedisUsageLimiter;
    let unreachable = |e: String| {
        Failure::new(
            Exit::Unavailable,
            format!("cannot reach Redis at {}: {e}", target.url),
        )
    };
    let limiter = RedisUsageLimiter::builder()
        .namespace(target.namespace)
        .key_prefix(target.prefix.clone())
        .connect(target.url)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let answer = match add {
        Some(amount) => limiter.top_up(id, workspace, limit, amount).await,
        None => limiter.credits(id, workspace, limit).await,
    };
    answer
        .map_err(|e| unreachable(e.to_string()))?
        .ok_or_else(|| {
            Failure::new(
                Exit::Refused,
                format!("{} is not a credits limit", limit.name()),
            )
        })
}

#[cfg(not(feature = "redis"))]
pub async fn balance(
    _target: &Target<'_>,
    _id: &KeyId,
    _workspace: &Workspace,
    _limit: &Limit,
    _add: Option<u64>,
) -> Result<u64, Failure> {
    Err(Failure::new(
        Exit::Invalid,
        "credits live in the service's Redis: this keygate was built without the `redis` \
         feature (build it with --features cli,redis)",
    ))
}
