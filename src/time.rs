//! Every time trailscope reads: times users give (`--from`, parameters, snapshot fields),
//! event times as CloudTrail writes them, and durations (`24h`, `90m`).
//!
//! One module, so a form accepted in one place is accepted everywhere.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};

/// Parses a UTC time: RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` or with a space.
pub fn parse_user_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default());
    }
    Err(format!(
        "{s:?} is not a time: use 2024-03-01, 2024-03-01T12:00 or 2024-03-01T12:00:00Z (UTC)"
    ))
}

/// Parses `90m`, `24h`, `2d`, `3600s`.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let err = || format!("{s:?} is not a duration: use e.g. 90m, 24h or 2d");
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?);
    let n: i64 = number.parse().map_err(|_| err())?;
    match unit {
        "s" => Ok(Duration::seconds(n)),
        "m" => Ok(Duration::minutes(n)),
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        _ => Err(err()),
    }
}

/// An RFC 3339 time as digests and snapshots carry it; `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc())
}

/// Microseconds since the epoch, UTC; `None` when the text is not a time we recognise.
///
/// The common form `YYYY-MM-DDTHH:MM:SSZ` is parsed by hand (this runs once per record);
/// anything else goes through chrono: RFC 3339 with fractions or offsets, and the
/// space-separated `2025-03-26 16:43:57.000000000` seen in relayed records (taken as UTC).
pub fn parse_event_time(s: &str) -> Option<i64> {
    fast_iso_seconds(s.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .or_else(|_| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc())
            })
            .or_else(|_| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
            })
            .ok()
            .map(|t| t.timestamp_micros())
    })
}

fn fast_iso_seconds(b: &[u8]) -> Option<i64> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)?;
    let days = i64::from(date.num_days_from_ce()) - 719_163; // days from 0001-01-01 to 1970-01-01
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(
            parse_user_time("2024-03-01").unwrap().to_rfc3339(),
            "2024-03-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_user_time("2024-03-01T12:30").unwrap().to_rfc3339(),
            "2024-03-01T12:30:00+00:00"
        );
        assert_eq!(
            parse_user_time("2024-03-01T12:30:00Z")
                .unwrap()
                .to_rfc3339(),
            "2024-03-01T12:30:00+00:00"
        );
        assert!(
            parse_user_time("last tuesday")
                .unwrap_err()
                .contains("not a time")
        );
        assert_eq!(parse_duration("90m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_duration("2d").unwrap(), Duration::days(2));
        assert!(parse_duration("2 weeks").is_err());
    }

    #[test]
    fn parses_cloudtrail_and_odd_forms_to_the_same_instant() {
        let expected = DateTime::parse_from_rfc3339("2025-03-26T16:43:57Z")
            .unwrap()
            .timestamp_micros();
        for s in [
            "2025-03-26T16:43:57Z",
            "2025-03-26T16:43:57.000Z",
            "2025-03-26T18:43:57+02:00",
            "2025-03-26 16:43:57.000000000",
            "2025-03-26T16:43:57",
        ] {
            assert_eq!(parse_event_time(s), Some(expected), "{s}");
        }
        assert_eq!(parse_event_time("yesterday"), None);
        assert_eq!(parse_event_time("2025-13-26T16:43:57Z"), None);
    }
}
