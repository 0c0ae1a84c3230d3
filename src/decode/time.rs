//! Event time parsing: ISO-8601 as CloudTrail writes it, and the odd forms real archives hold.

use chrono::{DateTime, Datelike, NaiveDateTime};

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
