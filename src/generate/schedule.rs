//! When things happen: how many events a day and at what times, and when logging is on.
//!
//! Real trails follow working hours: weekday business hours (08-18 UTC here) carry most of the
//! traffic, nights and weekends a trickle, so quiet regions have empty night hours. Gap detection
//! and digest checks must tell that innocent silence (attested by empty digests) from a logging
//! stop or deleted files, so the generator has to produce both.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use rand::Rng;

use super::ids::GenRng;

/// Relative activity per hour of a weekday (UTC).
const WEEKDAY_HOURS: [f64; 24] = [
    0.15, 0.15, 0.15, 0.15, 0.15, 0.2, 1.0, 2.0, // 00-07
    10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, // 08-17
    2.5, 1.5, 1.0, 0.5, 0.3, 0.2, // 18-23
];
/// Relative activity per hour of a weekend day.
const WEEKEND_HOURS: [f64; 24] = [
    0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.2, 0.3, // 00-07
    0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, // 08-17
    0.5, 0.4, 0.3, 0.2, 0.15, 0.15, // 18-23
];

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

fn hour_weights(day: NaiveDate) -> &'static [f64; 24] {
    if is_weekend(day) {
        &WEEKEND_HOURS
    } else {
        &WEEKDAY_HOURS
    }
}

fn day_weight(day: NaiveDate) -> f64 {
    hour_weights(day).iter().sum()
}

/// Splits `total` events over the run's days in proportion to each day's activity, rounding
/// cumulatively so the counts add up to `total` exactly.
pub fn day_counts(start: NaiveDate, days: u32, total: f64) -> Vec<u64> {
    let dates: Vec<NaiveDate> = start.iter_days().take(days as usize).collect();
    let sum: f64 = dates.iter().map(|d| day_weight(*d)).sum();
    let mut out = Vec::with_capacity(dates.len());
    let (mut acc, mut emitted) = (0.0f64, 0u64);
    for d in &dates {
        acc += total * day_weight(*d) / sum;
        let upto = acc.round() as u64;
        out.push(upto - emitted);
        emitted = upto;
    }
    out
}

/// `count` event times (epoch seconds) on `day`, drawn from the hour profile, sorted.
pub fn event_times(day: NaiveDate, count: u64, rng: &mut GenRng) -> Vec<i64> {
    let weights = hour_weights(day);
    let total: f64 = weights.iter().sum();
    let midnight = day_start(day).timestamp();
    let mut times: Vec<i64> = (0..count)
        .map(|_| {
            let mut x = rng.gen_range(0.0..total);
            let mut hour = 23;
            for (h, w) in weights.iter().enumerate() {
                if x < *w {
                    hour = h;
                    break;
                }
                x -= w;
            }
            midnight + hour as i64 * 3600 + rng.gen_range(0..3600)
        })
        .collect();
    times.sort_unstable();
    times
}

pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// A stretch of time during which an account's trail is logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: DateTime<Utc>,
    /// When logging was stopped (a StopLogging event at exactly this second); `None` = logging
    /// until the end of the run.
    pub stop: Option<DateTime<Utc>>,
    /// This segment began with a StartLogging event (a restart after a stop).
    pub restarted: bool,
}

impl Segment {
    /// Whether an event at `t` (epoch seconds) is logged by this segment.
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start.timestamp() && self.stop.is_none_or(|s| t <= s.timestamp())
    }
}

/// The stamp of the last log file delivered before a stop: the first full minute after it.
/// Everything logged up to the stop is flushed by then, nothing is delivered after.
pub fn flush_after(stop: DateTime<Utc>) -> DateTime<Utc> {
    truncate_minute(stop) + Duration::minutes(1)
}

pub fn truncate_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::seconds(i64::from(t.second()))
        - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()))
}

/// A stop and its restart (if any), whole seconds.
pub type Episode = (DateTime<Utc>, Option<DateTime<Utc>>);

/// The logging segments of one account, from its (validated, sorted, non-overlapping) stop
/// episodes. A restart at or after `run_end` is no restart within the run.
pub fn segments(
    run_start: DateTime<Utc>,
    run_end: DateTime<Utc>,
    episodes: &[Episode],
) -> Vec<Segment> {
    let mut out = vec![Segment {
        start: run_start,
        stop: None,
        restarted: false,
    }];
    for (stop, restart) in episodes {
        if let Some(last) = out.last_mut() {
            last.stop = Some(*stop);
        }
        match restart {
            Some(r) if *r < run_end => out.push(Segment {
                start: *r,
                stop: None,
                restarted: true,
            }),
            _ => break,
        }
    }
    out
}

/// Index of the segment that logs an event at `t`, or `None` while logging is stopped.
pub fn segment_of(segments: &[Segment], t: i64) -> Option<usize> {
    segments.iter().position(|s| s.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_add_up_and_weekends_are_quiet() {
        // 2026-10-01 is a Thursday: Thu, Fri, Sat, Sun.
        let start = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let counts = day_counts(start, 4, 10_000.0);
        assert_eq!(counts.iter().sum::<u64>(), 10_000);
        assert!(counts[0] > 5 * counts[2], "{counts:?}");
    }

    #[test]
    fn business_hours_dominate() {
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        let mut rng = <GenRng as rand::SeedableRng>::seed_from_u64(1);
        let times = event_times(day, 5000, &mut rng);
        let midnight = day_start(day).timestamp();
        let busy = times
            .iter()
            .filter(|t| (8 * 3600..18 * 3600).contains(&(*t - midnight)))
            .count();
        assert!(busy > 4000, "{busy}");
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
}
