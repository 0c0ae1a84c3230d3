//! Which hours the digests attest, and the verdict on each log file no digest lists.
//!
//! A log file that no digest lists is `unlisted` (a tampering-style finding) only when a digest
//! that was read covers its hour. When the digest that would list it is missing, unreadable or
//! could not be fetched, its list is unknown: the file is `unattested`, naming that digest, and
//! the digest carries the finding. A file in an hour no digest covers at all is `unattested`
//! too. Every log file in scope gets one verdict, so deleting a digest cannot hide a file.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::chain::{CADENCE, DigestCheck, DigestStatus};
use super::logs::{LogFileCheck, LogFileStatus};
use crate::archive::{ObjectEntry, Scope};

/// A digest's hour widened by the minute-resolution of log file stamps.
const STAMP_SLACK: Duration = Duration::minutes(2);

/// A digest's window `[start, end]`, its key and status.
type Window = (DateTime<Utc>, DateTime<Utc>, String, DigestStatus);

/// Digest windows per (account, region).
pub(crate) struct Coverage {
    windows: HashMap<(String, String), Vec<Window>>,
}

impl Coverage {
    pub fn new(checks: &[DigestCheck], trail: Option<&str>) -> Coverage {
        let mut windows: HashMap<_, Vec<Window>> = HashMap::new();
        for c in checks.iter().filter(|c| trail.is_none_or(|t| t == c.trail)) {
            let Some(end) = c.end_time else { continue };
            let start = c.start_time.unwrap_or(end - CADENCE);
            windows
                .entry((c.account_id.clone(), c.region.clone()))
                .or_default()
                .push((start, end, c.key.clone(), c.status));
        }
        Coverage { windows }
    }

    fn covering(&self, account: &str, region: &str, t: DateTime<Utc>) -> Vec<&Window> {
        self.windows
            .get(&(account.to_string(), region.to_string()))
            .map(|w| {
                w.iter()
                    .filter(|(s, e, _, _)| t >= *s - STAMP_SLACK && t <= *e + STAMP_SLACK)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The verdict on a log file delivered at `t` that no digest lists.
    fn judge_unlisted(&self, account: &str, region: &str, t: DateTime<Utc>) -> Verdict {
        let covering = self.covering(account, region, t);
        let unknown = covering
            .iter()
            .find(|(_, _, _, status)| is_unknown(*status));
        if let Some((_, _, key, status)) = unknown {
            return Verdict::Unattested {
                digest: Some(key.clone()),
                detail: format!(
                    "the digest for its hour is {}: nothing attests it",
                    status.as_str()
                ),
            };
        }
        if covering.is_empty() {
            return Verdict::Unattested {
                digest: None,
                detail: "no digest covers its hour (validation off, or before the first digest)"
                    .into(),
            };
        }
        Verdict::Unlisted
    }
}

/// The digest's list of log files is not known.
fn is_unknown(status: DigestStatus) -> bool {
    matches!(
        status,
        DigestStatus::Missing | DigestStatus::Unreadable | DigestStatus::Unfetched
    )
}

enum Verdict {
    Unlisted,
    Unattested {
        digest: Option<String>,
        detail: String,
    },
}

/// A verdict for every log file in range that no reported digest lists. With a trail filter,
/// files in hours the trail's digests do not cover are left out: they belong to other trails.
pub(crate) fn unlisted_verdicts(
    logs: Vec<ObjectEntry>,
    coverage: &Coverage,
    scope: &Scope,
    one_trail: bool,
) -> Vec<LogFileCheck> {
    let mut out = Vec::new();
    for o in logs {
        let Some(stamp) = o.parsed.stamp else {
            continue;
        };
        if scope.from.is_some_and(|f| stamp < f) || scope.to.is_some_and(|t| stamp >= t) {
            continue;
        }
        let (account, region) = (&o.parsed.account_id, &o.parsed.region);
        let (status, digest_key, detail) = match coverage.judge_unlisted(account, region, stamp) {
            Verdict::Unlisted => (
                LogFileStatus::Unlisted,
                None,
                "delivered while validation was on, but no digest lists it".to_string(),
            ),
            Verdict::Unattested { digest: None, .. } if one_trail => continue,
            Verdict::Unattested { digest, detail } => (LogFileStatus::Unattested, digest, detail),
        };
        out.push(LogFileCheck {
            key: o.key,
            account_id: account.clone(),
            region: region.clone(),
            delivered: Some(stamp),
            digest_key,
            s3_object: None,
            expected_hash: None,
            oldest_event_time: None,
            newest_event_time: None,
            status,
            detail,
        });
    }
    out
}
