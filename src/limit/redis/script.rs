//! The GCRA Lua script (`src/limit/gcra.lua`): its arguments, its reply, and how it is run.
//!
//! The script keeps a key's theoretical arrival time in integer microseconds on the server's
//! clock. A [`Quota`]'s interval is in nanoseconds (at least 1 µs), so it is **rounded up** to a
//! whole microsecond: a quota whose interval is a whole number of microseconds (every interval
//! given in ms or s, and `per_second(n)` for every `n` dividing 1,000,000) gets exactly the
//! decisions of [`gcra::decide`](crate::limit::gcra::decide); any other is refilled up to 1 µs
//! per request more slowly, never faster. The window (`burst × interval`) is capped at 2^50 µs
//! (about 35 years) so that every value stays an exact Lua number.

use std::time::Duration;

use ::redis::aio::ConnectionLike;
use ::redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind};

use crate::limit::{Decision, LimiterError, Quota};

/// The script's source.
pub(super) const SOURCE: &str = include_str!("../gcra.lua");

/// The source of the script that gives a unit back (`refund.lua`).
pub(super) const REFUND_SOURCE: &str = include_str!("refund.lua");

/// The longest window the script handles: 2^50 µs, about 35.7 years.
const MAX_WINDOW_MICROS: u64 = 1 << 50;

/// The script's arguments for one quota: `ARGV[1]` and `ARGV[2]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Args {
    interval_micros: u64,
    window_micros: u64,
}

impl Args {
    /// `ARGV[1]` alone: what the refund script takes.
    pub(super) fn interval_micros(&self) -> u64 {
        self.interval_micros
    }

    /// `ARGV[2]`: the window, burst × interval.
    pub(super) fn window_micros(&self) -> u64 {
        self.window_micros
    }

    pub(super) fn new(quota: &Quota) -> Self {
        let interval_micros = quota.interval_nanos().div_ceil(1_000);
        let window_micros = interval_micros
            .saturating_mul(u64::from(quota.burst()))
            .min(MAX_WINDOW_MICROS);
        Self {
            interval_micros,
            window_micros,
        }
    }
}

/// The SHA-1 of a script's source, computed once per limiter.
pub(super) fn hash(source: &str) -> String {
    Script::new(source).get_hash().to_owned()
}

/// Runs the script for `key`.
pub(super) async fn run<C: ConnectionLike>(
    conn: &mut C,
    hash: &str,
    key: &str,
    args: Args,
) -> RedisResult<[i64; 4]> {
    eval(
        conn,
        (hash, SOURCE),
        key,
        &[args.interval_micros, args.window_micros],
    )
    .await
}

/// Runs `script` (its hash and source) for `key` with `args`: `EVALSHA`, and `EVAL` of the
/// source when the server does not know the script (`NOSCRIPT`: after a restart, a fail-over
/// or a `SCRIPT FLUSH`). `EVAL` both answers and caches the script, in one round trip, so no
/// flush can slip in between loading and running it.
pub(super) async fn eval<C: ConnectionLike, T: FromRedisValue>(
    conn: &mut C,
    (hash, source): (&str, &str),
    key: &str,
    args: &[u64],
) -> RedisResult<T> {
    let invoke = |command: &str, script: &str| {
        let mut cmd = Cmd::new();
        cmd.arg(command).arg(script).arg(1).arg(key).arg(args);
        cmd
    };
    match invoke("EVALSHA", hash).query_async(conn).await {
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            invoke("EVAL", source).query_async(conn).await
        }
        answer => answer,
    }
}

/// The decision in the script's reply `{allowed, remaining, retry_after_us, reset_us}`.
pub fn decision(reply: [i64; 4], quota: &Quota) -> Result<Decision, LimiterError> {
    let [allowed, remaining, retry_after, reset] = reply;
    let micros = |n: i64| u64::try_from(n).ok().map(Duration::from_micros);
    match (
        allowed,
        u64::try_from(remaining),
        micros(retry_after),
        micros(reset),
    ) {
        (0 | 1, Ok(remaining), Some(retry_after), Some(reset)) => Ok(Decision {
            allowed: allowed == 1,
            limit: quota.burst(),
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset,
            retry_after,
        }),
        _ => Err(LimiterError::Unavailable(
            format!("unexpected reply from the rate-limit script: {reply:?}").into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::gcra;
    use std::num::NonZeroU32;

    fn quota(burst: u32, interval: Duration) -> Quota {
        Quota::new(burst, interval).unwrap()
    }

    #[test]
    fn whole_microsecond_intervals_are_sent_unchanged() {
        let args = Args::new(&quota(5, Duration::from_millis(200)));
        assert_eq!(args.interval_micros, 200_000);
        assert_eq!(args.window_micros, 1_000_000);
    }

    #[test]
    fn a_fractional_microsecond_interval_is_rounded_up() {
        // 1 s / 3 = 333,333,333 ns.
        let args = Args::new(&Quota::per_second(NonZeroU32::new(3).unwrap()));
        assert_eq!(args.interval_micros, 333_334);
        assert_eq!(args.window_micros, 1_000_002);
        assert_eq!(
            Args::new(&quota(1, Duration::from_nanos(1_001))).interval_micros,
            2
        );
    }

    #[test]
    fn a_window_beyond_35_years_is_capped_to_stay_exact_in_lua() {
        let args = Args::new(&quota(u32::MAX, Duration::from_secs(365 * 24 * 3600)));
        assert_eq!(args.window_micros, 1 << 50);
        assert!(args.window_micros < (1 << 53) / 4);
    }

    #[test]
    fn a_reply_becomes_the_decision_with_the_quota_limit() {
        let q = quota(4, Duration::from_secs(1));
        let d = decision([1, 3, 0, 1_000_000], &q).unwrap();
        assert_eq!(
            d,
            Decision {
                allowed: true,
                limit: 4,
                remaining: 3,
                reset: Duration::from_secs(1),
                retry_after: Duration::ZERO,
            }
        );
        let refused = decision([0, 0, 250_000, 4_000_000], &q).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_millis(250));
    }

    #[test]
    fn a_reply_in_microseconds_matches_the_reference_in_nanoseconds() {
        let q = quota(2, Duration::from_millis(500));
        let (tat, _) = gcra::decide(0, 1_000, &q);
        let (_, second) = gcra::decide(tat, 1_000, &q);
        let got = decision([1, 0, 0, 1_000_000], &q).unwrap();
        assert_eq!(got, second);
    }

    #[test]
    fn a_malformed_reply_is_an_unavailable_backend() {
        let q = quota(1, Duration::from_secs(1));
        for reply in [[2, 0, 0, 0], [1, -1, 0, 0], [0, 0, -5, 0], [0, 0, 0, -1]] {
            assert!(matches!(
                decision(reply, &q),
                Err(LimiterError::Unavailable(_))
            ));
        }
    }
}
