//! [`Period`]: the UTC calendar periods a quota counts in, and the [`Window`] one instant
//! falls in.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: u64 = 86_400;

/// The calendar period of a quota or a credit refill, in UTC.
///
/// - [`Period::Day`]: from 00:00 UTC to the next 00:00 UTC.
/// - [`Period::Month`]: from 00:00 UTC on the anchor day (the billing day, 1 to 31) of one
///   month to the same day of the next. In a month shorter than the anchor day the period
///   starts on its last day instead: an anchor of 31 starts periods on 31 January, 28 (or 29)
///   February, 31 March, 30 April, and so on.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use keygate::plan::{AnchorDay, Period};
///
/// // 2024-02-10T12:00:00Z, under a plan billed on the 31st.
/// let now = UNIX_EPOCH + Duration::from_secs(1_707_566_400);
/// let window = Period::Month(AnchorDay::new(31).unwrap()).window(now);
/// assert_eq!(window.start(), UNIX_EPOCH + Duration::from_secs(1_706_659_200)); // 2024-01-31
/// assert_eq!(window.end(), UNIX_EPOCH + Duration::from_secs(1_709_164_800)); // 2024-02-29
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A UTC day.
    Day,
    /// A month, starting on the anchor day.
    Month(AnchorDay),
}

/// The day of the month a monthly period starts on: 1 to 31 (clamped to the month's last day
/// in shorter months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnchorDay(u8);

/// Why a number is not an anchor day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an anchor day is a day of the month, 1 to 31 (not {0})")]
pub struct InvalidAnchorDay(pub u32);

impl AnchorDay {
    /// The first of the month: calendar months.
    pub const FIRST: AnchorDay = AnchorDay(1);

    /// An anchor day, 1 to 31.
    pub fn new(day: u32) -> Result<Self, InvalidAnchorDay> {
        match u8::try_from(day) {
            Ok(d @ 1..=31) => Ok(Self(d)),
            _ => Err(InvalidAnchorDay(day)),
        }
    }

    /// The day, 1 to 31.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day => f.write_str("day"),
            Period::Month(anchor) if *anchor == AnchorDay::FIRST => f.write_str("month"),
            Period::Month(anchor) => write!(f, "month (from day {})", anchor.get()),
        }
    }
}

/// One period: from `start` (included) to `end` (excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    start_day: i64,
    end_day: i64,
}

impl Window {
    /// When the period starts (00:00 UTC).
    pub fn start(&self) -> SystemTime {
        at_day(self.start_day)
    }

    /// When the next period starts (00:00 UTC).
    pub fn end(&self) -> SystemTime {
        at_day(self.end_day)
    }

    /// The period's length (a day, or 28 to 31 days).
    pub fn length(&self) -> Duration {
        Duration::from_secs(
            u64::try_from(self.end_day - self.start_day).unwrap_or(0) * SECS_PER_DAY,
        )
    }

    /// The time from `now` to the end of the period (zero once it has ended).
    pub fn remaining(&self, now: SystemTime) -> Duration {
        self.end().duration_since(now).unwrap_or(Duration::ZERO)
    }

    /// A number naming the period: the day it starts on, counted from 1970-01-01. Two
    /// windows of one period have the same number; counters are kept per number.
    pub fn number(&self) -> i64 {
        self.start_day
    }
}

impl Period {
    /// The period `now` falls in. Times before 1970 count as 1970-01-01.
    pub fn window(&self, now: SystemTime) -> Window {
        let today = day_of(now);
        match *self {
            Period::Day => Window {
                start_day: today,
                end_day: today + 1,
            },
            Period::Month(anchor) => {
                let (year, month, day) = civil_from_days(today);
                let this = anchor_in(year, month, anchor);
                if day >= this {
                    let (ny, nm) = next_month(year, month);
                    Window {
                        start_day: days_from_civil(year, month, this),
                        end_day: days_from_civil(ny, nm, anchor_in(ny, nm, anchor)),
                    }
                } else {
                    let (py, pm) = previous_month(year, month);
                    Window {
                        start_day: days_from_civil(py, pm, anchor_in(py, pm, anchor)),
                        end_day: days_from_civil(year, month, this),
                    }
                }
            }
        }
    }
}

/// Whole days since 1970-01-01 (0 before it).
fn day_of(now: SystemTime) -> i64 {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs / SECS_PER_DAY).unwrap_or(i64::MAX / 2)
}

fn at_day(day: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(day).unwrap_or(0) * SECS_PER_DAY)
}

/// The day a period anchored on `anchor` starts on in `year`-`month`.
fn anchor_in(year: i64, month: u32, anchor: AnchorDay) -> u32 {
    anchor.get().min(days_in_month(year, month))
}

fn next_month(year: i64, month: u32) -> (i64, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

fn previous_month(year: i64, month: u32) -> (i64, u32) {
    if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12; // March is 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction: 1..=31 and 1..=12.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i64, month: u32, day: u32) -> SystemTime {
        at_day(days_from_civil(year, month, day))
    }

    fn month(anchor: u32) -> Period {
        Period::Month(AnchorDay::new(anchor).unwrap())
    }

    fn window_of(period: Period, at: SystemTime) -> (SystemTime, SystemTime) {
        let w = period.window(at);
        (w.start(), w.end())
    }

    #[test]
    fn known_dates_count_from_the_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn a_day_runs_from_utc_midnight_to_the_next() {
        let noon = date(2026, 11, 29) + Duration::from_secs(12 * 3600);
        assert_eq!(
            window_of(Period::Day, noon),
            (date(2026, 11, 29), date(2026, 11, 30))
        );
        let last_second = date(2026, 11, 30) - Duration::from_secs(1);
        assert_eq!(window_of(Period::Day, last_second).1, date(2026, 11, 30));
        assert_eq!(
            window_of(Period::Day, date(2026, 11, 30)).0,
            date(2026, 11, 30)
        );
    }

    #[test]
    fn a_calendar_month_runs_from_the_first_to_the_first() {
        assert_eq!(
            window_of(month(1), date(2026, 12, 31)),
            (date(2026, 12, 1), date(2027, 1, 1))
        );
        assert_eq!(
            window_of(month(1), date(2027, 1, 1)),
            (date(2027, 1, 1), date(2027, 2, 1))
        );
    }

    #[test]
    fn an_anchor_day_splits_the_month() {
        assert_eq!(
            window_of(month(15), date(2026, 11, 14)),
            (date(2026, 10, 15), date(2026, 11, 15))
        );
        assert_eq!(
            window_of(month(15), date(2026, 11, 15)),
            (date(2026, 11, 15), date(2026, 12, 15))
        );
    }

    #[test]
    fn anchors_past_a_short_months_end_start_on_its_last_day() {
        // February 2025 has 28 days, 2024 has 29.
        for (anchor, year, feb_start) in [
            (29, 2025, 28),
            (30, 2025, 28),
            (31, 2025, 28),
            (30, 2024, 29),
        ] {
            let at = date(year, 2, feb_start) + Duration::from_secs(60);
            let (start, end) = window_of(month(anchor), at);
            assert_eq!(start, date(year, 2, feb_start), "anchor {anchor} in {year}");
            assert_eq!(end, date(year, 3, anchor), "anchor {anchor} in {year}");
        }
        // Before the clamped start, the period is still January's.
        assert_eq!(
            window_of(month(30), date(2024, 2, 28)),
            (date(2024, 1, 30), date(2024, 2, 29))
        );
        // 30 April, then 31 May.
        assert_eq!(
            window_of(month(31), date(2026, 5, 1)),
            (date(2026, 4, 30), date(2026, 5, 31))
        );
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap(2024) && is_leap(2000) && !is_leap(1900) && !is_leap(2100));
        assert_eq!(
            window_of(month(29), date(2100, 2, 28)),
            (date(2100, 2, 28), date(2100, 3, 29))
        );
        assert_eq!(
            window_of(month(29), date(2000, 2, 28)),
            (date(2000, 1, 29), date(2000, 2, 29))
        );
    }

    #[test]
    fn times_before_1970_count_as_its_first_day() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(window_of(Period::Day, before).0, UNIX_EPOCH);
    }

    #[test]
    fn anchor_days_outside_1_to_31_are_refused() {
        assert!(AnchorDay::new(0).is_err());
        assert!(AnchorDay::new(32).is_err());
        assert_eq!(AnchorDay::new(31).unwrap().get(), 31);
    }

    proptest::proptest! {
        #[test]
        fn dates_round_trip_through_day_numbers(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            proptest::prop_assert!((1..=12).contains(&m));
            proptest::prop_assert!(d >= 1 && d <= days_in_month(y, m));
            proptest::prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn every_instant_lies_in_its_window_and_windows_tile_time(
            secs in 0u64..8_000_000_000, anchor in 1u32..=31, daily in proptest::bool::ANY
        ) {
            let period = if daily { Period::Day } else { month(anchor) };
            let now = UNIX_EPOCH + Duration::from_secs(secs);
            let w = period.window(now);
            proptest::prop_assert!(w.start() <= now && now < w.end());
            // The next window starts where this one ends, and the one before ends at its start.
            proptest::prop_assert_eq!(period.window(w.end()).start(), w.end());
            if w.start() > UNIX_EPOCH {
                let before = period.window(w.start() - Duration::from_secs(1));
                proptest::prop_assert_eq!(before.end(), w.start());
            }
            let days = w.length().as_secs() / SECS_PER_DAY;
            if daily {
                proptest::prop_assert_eq!(days, 1);
            } else {
                proptest::prop_assert!((28..=31).contains(&days), "{} days", days);
                let (_, _, start_day) = civil_from_days(w.number());
                proptest::prop_assert!(start_day == anchor || start_day < anchor && start_day >= 28);
            }
        }
    }
}
