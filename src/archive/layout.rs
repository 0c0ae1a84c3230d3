//! The key layout CloudTrail delivers to, and the parser that recognises it.
//!
//! ```text
//! [prefix/]AWSLogs/[o-orgid/]{acct}/CloudTrail/{region}/{YYYY}/{MM}/{DD}/{acct}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{id}.json.gz
//! [prefix/]AWSLogs/[o-orgid/]{acct}/CloudTrail-Digest/{region}/{YYYY}/{MM}/{DD}/{acct}_CloudTrail-Digest_{region}_{trail}_{home}_{YYYYMMDDTHHMMSSZ}[_backfill].json.gz
//! [prefix/]AWSLogs/[o-orgid/]{acct}/CloudTrail-Insight/{region}/...
//! ```
//! The parser is lenient about file names (real mirrors hold `.json` copies and hand-renamed
//! files) but strict about the folder structure: a key is ours only when its folders say so.
//! Everything else in a bucket (Config, ELB logs, READMEs, folder markers) is not ours.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// What kind of CloudTrail object a key names, from the folder after the account id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `CloudTrail/`: management and data event log files.
    Log,
    /// `CloudTrail-Digest/`: hourly digest files for log file integrity validation.
    Digest,
    /// `CloudTrail-Insight/`: Insights events, same record shape as log files.
    Insight,
}

impl ObjectKind {
    pub fn folder(self) -> &'static str {
        match self {
            ObjectKind::Log => "CloudTrail",
            ObjectKind::Digest => "CloudTrail-Digest",
            ObjectKind::Insight => "CloudTrail-Insight",
        }
    }

    fn from_folder(folder: &str) -> Option<Self> {
        match folder {
            "CloudTrail" => Some(ObjectKind::Log),
            "CloudTrail-Digest" => Some(ObjectKind::Digest),
            "CloudTrail-Insight" => Some(ObjectKind::Insight),
            _ => None,
        }
    }
}

/// A key recognised as a CloudTrail object, with everything its path tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// Everything before `AWSLogs/` (empty, or ending in `/`).
    pub prefix: String,
    /// The organization id of an organization trail (`o-...`), when the key has one.
    pub org_id: Option<String>,
    pub account_id: String,
    pub kind: ObjectKind,
    pub region: String,
    /// The date folder: the **delivery** date, not the events' date.
    pub date: NaiveDate,
    /// The delivery stamp in the file name, when the name has one.
    pub stamp: Option<DateTime<Utc>>,
    /// The last path segment.
    pub file_name: String,
    /// Digest files only: the trail name and its home region, from the file name.
    pub trail: Option<String>,
    pub home_region: Option<String>,
    /// Digest files only: delivered late (`_backfill`).
    pub backfill: bool,
}

/// Parses an object key; `None` when the key is not a CloudTrail log, digest or insight object
/// (including folder markers and objects in other folders of the bucket).
pub fn parse_key(key: &str) -> Option<ParsedKey> {
    let start = if key.starts_with("AWSLogs/") {
        0
    } else {
        key.find("/AWSLogs/")? + 1
    };
    let prefix = &key[..start];
    let mut parts = key[start + "AWSLogs/".len()..].split('/');
    let mut account = parts.next()?;
    let mut org_id = None;
    if account.starts_with("o-") {
        org_id = Some(account.to_string());
        account = parts.next()?;
    }
    if !is_account_id(account) {
        return None;
    }
    let kind = ObjectKind::from_folder(parts.next()?)?;
    let region = parts.next()?;
    let year: i32 = parse_digits(parts.next()?, 4)?;
    let month: u32 = parse_digits(parts.next()?, 2)?;
    let day: u32 = parse_digits(parts.next()?, 2)?;
    let file_name = parts.next()?;
    if file_name.is_empty() || parts.next().is_some() || region.is_empty() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let mut parsed = ParsedKey {
        prefix: prefix.to_string(),
        org_id,
        account_id: account.to_string(),
        kind,
        region: region.to_string(),
        date,
        stamp: find_stamp(file_name),
        file_name: file_name.to_string(),
        trail: None,
        home_region: None,
        backfill: false,
    };
    if kind == ObjectKind::Digest {
        parse_digest_name(&mut parsed);
    }
    Some(parsed)
}

/// True when the name ends like a log file CloudTrail (or a mirror of it) would write.
pub fn has_log_extension(file_name: &str) -> bool {
    file_name.ends_with(".json.gz") || file_name.ends_with(".json")
}

/// `{acct}_CloudTrail-Digest_{region}_{trail}_{home}_{stamp}[_backfill].json.gz`: the trail name
/// may itself hold underscores, so the fixed fields are taken from both ends.
fn parse_digest_name(parsed: &mut ParsedKey) {
    let name = parsed.file_name.as_str();
    let Some(stem) = name
        .strip_suffix(".json.gz")
        .or_else(|| name.strip_suffix(".json"))
    else {
        return;
    };
    let (stem, backfill) = match stem.strip_suffix("_backfill") {
        Some(s) => (s, true),
        None => (stem, false),
    };
    let head = format!("{}_CloudTrail-Digest_{}_", parsed.account_id, parsed.region);
    let Some(rest) = stem.strip_prefix(&head) else {
        return;
    };
    let mut fields = rest.rsplitn(3, '_');
    let (Some(_stamp), Some(home), Some(trail)) = (fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    parsed.trail = Some(trail.to_string());
    parsed.home_region = Some(home.to_string());
    parsed.backfill = backfill;
}

/// The first `YYYYMMDDTHHMM[SS][Z]` token in a file name.
fn find_stamp(name: &str) -> Option<DateTime<Utc>> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(12)).find_map(|i| {
        let window = &bytes[i..];
        let digits = |r: std::ops::Range<usize>| window[r].iter().all(u8::is_ascii_digit);
        let preceded_by_digit = i > 0 && bytes[i - 1].is_ascii_digit();
        if preceded_by_digit || !(digits(0..8) && window[8] == b'T' && digits(9..13)) {
            return None;
        }
        let with_seconds = window.len() >= 15 && digits(13..15);
        let text = std::str::from_utf8(&window[..if with_seconds { 15 } else { 13 }]).ok()?;
        let format = if with_seconds {
            "%Y%m%dT%H%M%S"
        } else {
            "%Y%m%dT%H%M"
        };
        NaiveDateTime::parse_from_str(text, format)
            .ok()
            .map(|t| t.and_utc())
    })
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_digits<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Builds the key CloudTrail would deliver a log file to (used by the generator and tests).
pub fn log_file_key(
    prefix: &str,
    org_id: Option<&str>,
    account_id: &str,
    region: &str,
    stamp: DateTime<Utc>,
    unique: &str,
) -> String {
    format!(
        "{}/{}_CloudTrail_{region}_{}_{unique}.json.gz",
        day_folder(
            prefix,
            org_id,
            account_id,
            ObjectKind::Log,
            region,
            stamp.date_naive()
        ),
        account_id,
        stamp.format("%Y%m%dT%H%MZ"),
    )
}

/// Builds the key CloudTrail would deliver a digest file to.
pub fn digest_file_key(
    prefix: &str,
    org_id: Option<&str>,
    account_id: &str,
    region: &str,
    trail: &str,
    home_region: &str,
    end: DateTime<Utc>,
) -> String {
    format!(
        "{}/{}_CloudTrail-Digest_{region}_{trail}_{home_region}_{}.json.gz",
        day_folder(
            prefix,
            org_id,
            account_id,
            ObjectKind::Digest,
            region,
            end.date_naive()
        ),
        account_id,
        end.format("%Y%m%dT%H%M%SZ"),
    )
}

/// `[prefix]AWSLogs/[org/]{acct}/{kind}/{region}/{YYYY}/{MM}/{DD}` (no trailing slash).
pub fn day_folder(
    prefix: &str,
    org_id: Option<&str>,
    account_id: &str,
    kind: ObjectKind,
    region: &str,
    date: NaiveDate,
) -> String {
    format!(
        "{}/{}",
        region_folder(prefix, org_id, account_id, kind, region),
        date.format("%Y/%m/%d")
    )
}

/// `[prefix]AWSLogs/[org/]{acct}/{kind}/{region}` (no trailing slash).
pub fn region_folder(
    prefix: &str,
    org_id: Option<&str>,
    account_id: &str,
    kind: ObjectKind,
    region: &str,
) -> String {
    let org = org_id.map(|o| format!("{o}/")).unwrap_or_default();
    format!(
        "{prefix}AWSLogs/{org}{account_id}/{}/{region}",
        kind.folder()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_account_log_key() {
        let k = parse_key("AWSLogs/974349055189/CloudTrail/sa-east-1/2017/06/01/974349055189_CloudTrail_sa-east-1_20170601T0740Z_Yt0KtjTLgau5Mhe6.json.gz").unwrap();
        assert_eq!(k.prefix, "");
        assert_eq!(k.org_id, None);
        assert_eq!(k.region, "sa-east-1");
        assert_eq!(k.date, NaiveDate::from_ymd_opt(2017, 6, 1).unwrap());
        assert_eq!(k.stamp.unwrap().to_rfc3339(), "2017-06-01T07:40:00+00:00");
    }

    #[test]
    fn parses_control_tower_org_key_with_odd_name() {
        let k = parse_key("o-abcd/AWSLogs/o-abcd/811596193553/CloudTrail/us-east-1/2020/09/30/811596193553_CloudTrail_us-east-1-20200930T2300.json").unwrap();
        assert_eq!(k.prefix, "o-abcd/");
        assert_eq!(k.org_id.as_deref(), Some("o-abcd"));
        assert_eq!(k.account_id, "811596193553");
        assert_eq!(k.stamp.unwrap().to_rfc3339(), "2020-09-30T23:00:00+00:00");
    }

    #[test]
    fn parses_digest_key_with_underscored_trail_and_backfill() {
        let k = parse_key("AWSLogs/327878933619/CloudTrail-Digest/ap-northeast-1/2023/10/15/327878933619_CloudTrail-Digest_ap-northeast-1_my_trail_us-west-2_20231015T230404Z_backfill.json.gz").unwrap();
        assert_eq!(k.kind, ObjectKind::Digest);
        assert_eq!(k.trail.as_deref(), Some("my_trail"));
        assert_eq!(k.home_region.as_deref(), Some("us-west-2"));
        assert!(k.backfill);
        assert_eq!(k.stamp.unwrap().to_rfc3339(), "2023-10-15T23:04:04+00:00");
    }

    #[test]
    fn rejects_what_is_not_ours() {
        for key in [
            "AWSLogs/974349055189/Config/us-east-1/2017/06/01/x.json.gz",
            "AWSLogs/974349055189/CloudTrail/us-east-1/2017/06/01/",
            "AWSLogs/974349055189/CloudTrail/us-east-1/",
            "README",
            "AWSLogs/notanaccount/CloudTrail/us-east-1/2017/06/01/x.json.gz",
        ] {
            assert_eq!(parse_key(key), None, "{key}");
        }
    }

    #[test]
    fn builders_round_trip_through_parser() {
        let stamp = DateTime::parse_from_rfc3339("2024-05-01T10:05:00Z")
            .unwrap()
            .to_utc();
        let key = log_file_key(
            "p/",
            Some("o-x1"),
            "111122223333",
            "eu-west-1",
            stamp,
            "ABCD",
        );
        let k = parse_key(&key).unwrap();
        assert_eq!((k.prefix.as_str(), k.region.as_str()), ("p/", "eu-west-1"));
        assert_eq!(k.stamp, Some(stamp));
        let key = digest_file_key(
            "",
            None,
            "111122223333",
            "eu-west-1",
            "t_1",
            "us-east-1",
            stamp,
        );
        let k = parse_key(&key).unwrap();
        assert_eq!(k.trail.as_deref(), Some("t_1"));
        assert_eq!(k.stamp, Some(stamp));
    }
}
