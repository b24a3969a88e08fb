//! The usage scripts (`admit.lua`, `refund.lua`, `credits.lua`, `top_up.lua`, each after
//! `counters.lua`):
//! their arguments, their replies, and how they are run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::aio::ConnectionLike;
use ::redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, ServerErrorKind};

use crate::limit::LimiterError;
use crate::limit::redis::script::Args as RateArgs;
use crate::plan::{Limit, LimitKind, LimitState, MAX_LIMITS, Refill, Window};

/// The source of the script that decides one request against a whole plan.
pub(super) const ADMIT: &str = concat!(include_str!("counters.lua"), include_str!("admit.lua"));
/// The source of the script that gives back what an admitted request spent.
pub(super) const REFUND: &str = concat!(include_str!("counters.lua"), include_str!("refund.lua"));
/// The source of the script that reads a credits balance.
pub(super) const CREDITS: &str = concat!(include_str!("counters.lua"), include_str!("credits.lua"));
/// The source of the script that adds credits.
pub(super) const TOP_UP: &str = concat!(include_str!("counters.lua"), include_str!("top_up.lua"));

/// The largest count the scripts hold exactly (2^53 − 1): larger maxima, balances and
/// top-ups are held at it.
pub(super) const MAX_COUNT: u64 = (1 << 53) - 1;

/// How long a quota's counter outlives its period: room for application clocks that lag
/// the one that started the period.
const QUOTA_GRACE: Duration = Duration::from_secs(3_600);

/// One limit's arguments to `admit.lua`, and what the application knows of its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LimitArgs {
    kind: &'static str,
    values: [u64; 3],
    /// The time until the period ends (quotas) or the next refill (credits): `None` for a
    /// rate, whose reset comes from the server's clock.
    reset: Option<Duration>,
}

fn count(n: u64) -> u64 {
    n.min(MAX_COUNT)
}

/// The time from `now` to the end of `window`, in whole seconds (`now` truncated), as the
/// memory limiter and the rate-limit headers count it.
fn until_end(window: &Window, now: SystemTime) -> Duration {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Duration::from_secs(secs(window.end()).saturating_sub(secs(now)))
}

/// A period's number as the scripts take it (day numbers are never negative).
fn number(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The arguments of a credits limit: initial balance, refill amount and refill period number
/// (0 and 0 without a refill), and the time to the next refill (zero without one).
pub(super) fn credit_args(
    initial: u64,
    refill: Option<Refill>,
    now: SystemTime,
) -> ([u64; 3], Duration) {
    match refill {
        Some(r) => {
            let window = r.period.window(now);
            (
                [count(initial), count(r.amount), number(window.number())],
                until_end(&window, now),
            )
        }
        None => ([count(initial), 0, 0], Duration::ZERO),
    }
}

impl LimitArgs {
    /// The arguments for `limit` at wall time `now` (calendar periods are the application's).
    pub(super) fn new(limit: &Limit, now: SystemTime) -> Self {
        match *limit.kind() {
            LimitKind::Rate(quota) => Self {
                kind: "r",
                values: [
                    RateArgs::new(&quota).interval_micros(),
                    u64::from(quota.burst()),
                    0,
                ],
                reset: None,
            },
            LimitKind::Quota { max, period } => {
                let window = period.window(now);
                let remaining = until_end(&window, now);
                let ttl = (remaining + QUOTA_GRACE).as_millis();
                Self {
                    kind: "q",
                    values: [
                        count(max),
                        number(window.number()),
                        u64::try_from(ttl).unwrap_or(u64::MAX),
                    ],
                    reset: Some(remaining),
                }
            }
            LimitKind::Credits { initial, refill } => {
                let (values, reset) = credit_args(initial, refill, now);
                Self {
                    kind: "c",
                    values,
                    reset: Some(reset),
                }
            }
        }
    }
}

/// Runs `script` (its hash and source) on `keys` with `fill` adding the arguments: `EVALSHA`,
/// and `EVAL` of the source when the server does not know the script (`NOSCRIPT`: after a
/// restart, a fail-over or a `SCRIPT FLUSH`). One round trip when the script is cached.
pub(super) async fn eval<C: ConnectionLike, T: FromRedisValue>(
    conn: &mut C,
    (hash, source): (&str, &str),
    keys: &[String],
    fill: impl Fn(&mut Cmd),
) -> RedisResult<T> {
    let invoke = |command: &str, script: &str| {
        let mut cmd = Cmd::new();
        cmd.arg(command).arg(script).arg(keys.len()).arg(keys);
        fill(&mut cmd);
        cmd
    };
    match invoke("EVALSHA", hash).query_async(conn).await {
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            invoke("EVAL", source).query_async(conn).await
        }
        answer => answer,
    }
}

/// Adds `admit.lua`'s arguments: the cost, then four per limit.
pub(super) fn admit_args(cmd: &mut Cmd, cost: u32, limits: &[LimitArgs]) {
    cmd.arg(cost);
    for limit in limits {
        cmd.arg(limit.kind);
        for value in limit.values {
            cmd.arg(value);
        }
    }
}

fn malformed(reply: &[i64]) -> LimiterError {
    LimiterError::Unavailable(format!("unexpected reply from the usage script: {reply:?}").into())
}

/// The states and the refusing limit's index in `admit.lua`'s reply.
pub(super) fn states(
    reply: &[i64],
    limits: &[Limit],
    args: &[LimitArgs],
) -> Result<([LimitState; MAX_LIMITS], Option<usize>), LimiterError> {
    let n = limits.len();
    if reply.len() != 1 + 3 * n || n > MAX_LIMITS || args.len() != n {
        return Err(malformed(reply));
    }
    let refused = match usize::try_from(reply[0]) {
        Ok(0) => None,
        Ok(i) if i <= n => Some(i - 1),
        _ => return Err(malformed(reply)),
    };
    let micros = |n: i64| u64::try_from(n).ok().map(Duration::from_micros);
    let mut states = [LimitState::default(); MAX_LIMITS];
    for (i, (limit, arg)) in limits.iter().zip(args).enumerate() {
        let [remaining, reset, retry] = [reply[1 + 3 * i], reply[2 + 3 * i], reply[3 + 3 * i]];
        let (Ok(remaining), Some(reset_us)) = (u64::try_from(remaining), micros(reset)) else {
            return Err(malformed(reply));
        };
        let reset = arg.reset.unwrap_or(reset_us);
        let retry_after = match (retry, arg.reset) {
            (-1, _) => None,
            // Quotas and credits: at the period's end or the refill.
            (0, Some(reset)) => Some(reset),
            (us, None) => Some(micros(us).ok_or_else(|| malformed(reply))?),
            _ => return Err(malformed(reply)),
        };
        states[i] = LimitState {
            capacity: limit.capacity(),
            remaining,
            reset,
            retry_after,
        };
    }
    Ok((states, refused))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{AnchorDay, Period};
    use crate::quota::Quota;

    fn name(s: &str) -> crate::plan::LimitName {
        s.parse().unwrap()
    }

    /// 2025-11-29T12:00:00Z.
    fn noon() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(20_421 * 86_400 + 43_200)
    }

    #[test]
    fn a_quota_sends_its_period_number_and_outlives_its_period_by_an_hour() {
        let args = LimitArgs::new(&Limit::quota(name("daily"), 5, Period::Day), noon());
        assert_eq!(args.kind, "q");
        assert_eq!(args.values, [5, 20_421, (43_200 + 3_600) * 1_000]);
        assert_eq!(args.reset, Some(Duration::from_secs(43_200)));
    }

    #[test]
    fn a_period_ends_in_whole_seconds_from_the_current_second() {
        let just_after = noon() + Duration::from_millis(999);
        let args = LimitArgs::new(&Limit::quota(name("daily"), 5, Period::Day), just_after);
        assert_eq!(args.reset, Some(Duration::from_secs(43_200)));
    }

    #[test]
    fn counts_beyond_two_to_the_53_are_held_there() {
        let monthly = Limit::quota(name("m"), u64::MAX, Period::Month(AnchorDay::FIRST));
        assert_eq!(LimitArgs::new(&monthly, noon()).values[0], MAX_COUNT);
        let credits = Limit::credits(name("c"), u64::MAX, None);
        assert_eq!(LimitArgs::new(&credits, noon()).values, [MAX_COUNT, 0, 0]);
    }

    #[test]
    fn a_rate_sends_its_interval_in_microseconds_and_its_burst() {
        let rate = Limit::rate(
            name("burst"),
            Quota::new(20, Duration::from_millis(50)).unwrap(),
        );
        let args = LimitArgs::new(&rate, noon());
        assert_eq!(
            (args.kind, args.values, args.reset),
            ("r", [50_000, 20, 0], None)
        );
    }

    #[test]
    fn a_reply_becomes_states_with_the_applications_period_ends() {
        let limits = [
            Limit::rate(
                name("burst"),
                Quota::new(2, Duration::from_secs(1)).unwrap(),
            ),
            Limit::quota(name("daily"), 5, Period::Day),
        ];
        let args: Vec<_> = limits.iter().map(|l| LimitArgs::new(l, noon())).collect();
        let (states, refused) = states(&[2, 1, 500_000, -1, 0, 0, 0], &limits, &args).unwrap();
        assert_eq!(refused, Some(1));
        assert_eq!(states[0].reset, Duration::from_millis(500));
        assert_eq!(states[0].retry_after, None);
        assert_eq!(states[1].remaining, 0);
        assert_eq!(states[1].retry_after, Some(Duration::from_secs(43_200)));
    }

    #[test]
    fn a_malformed_reply_is_an_unavailable_backend() {
        let limits = [Limit::quota(name("daily"), 5, Period::Day)];
        let args = [LimitArgs::new(&limits[0], noon())];
        for reply in [
            &[0, 1, 0][..],
            &[2, 1, 0, -1],
            &[0, -1, 0, -1],
            &[0, 1, 0, 7],
        ] {
            assert!(matches!(
                states(reply, &limits, &args),
                Err(LimiterError::Unavailable(_))
            ));
        }
    }
}
