//! The newest digests of a chain, deleted: no successor is left to name them, which is why
//! `validate-logs` cannot see it. Two kinds of evidence still can:
//! - the same trail's chains in other regions (or accounts, for an organization trail) go on:
//!   CloudTrail delivers a digest for every region every hour, empty or not, so one region's
//!   chain ending early means its tail is gone;
//! - log files keep arriving: a log delivered more than two hours after a chain's last digest
//!   would have been listed by a digest that was due (and delivered) before the copy was made.
//!
//! Each missing hour is reported on its own, like the gaps inside a chain.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::chain::{CADENCE, DigestCheck, DigestStatus, Range};
use crate::archive::layout::digest_file_key;

/// (account, region) → the latest log file delivery stamp the archive holds.
pub type LatestLogs = HashMap<(String, String), DateTime<Utc>>;

/// Missing digests after the end of each chain, from the evidence above.
pub fn missing_tail(
    checks: &[DigestCheck],
    latest_logs: &LatestLogs,
    range: Range,
) -> Vec<DigestCheck> {
    // The chain's last present digest, and the trail's last digest in any region or account.
    let mut chains: BTreeMap<(String, String, String, String), &DigestCheck> = BTreeMap::new();
    let mut trail_end: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    for c in checks.iter().filter(|c| c.status != DigestStatus::Missing) {
        let Some(end) = c.end_time else { continue };
        let chain = (
            c.account_id.clone(),
            c.region.clone(),
            c.trail.clone(),
            c.home_region.clone(),
        );
        let newer = chains
            .get(&chain)
            .is_none_or(|prev| prev.end_time.is_some_and(|e| e < end));
        if newer {
            chains.insert(chain, c);
        }
        let trail = (c.trail.clone(), c.home_region.clone());
        let e = trail_end.entry(trail).or_insert(end);
        *e = (*e).max(end);
    }
    let mut out = Vec::new();
    for last in chains.values() {
        let Some(last_end) = last.end_time else {
            continue;
        };
        // Only log files delivered after the chain's last digest can be missing from it.
        let Some(latest_log) = latest_logs
            .get(&(last.account_id.clone(), last.region.clone()))
            .copied()
            .filter(|t| *t > last_end + Duration::minutes(5))
        else {
            continue;
        };
        let siblings_go_on = trail_end
            .get(&(last.trail.clone(), last.home_region.clone()))
            .is_some_and(|t| *t >= latest_log);
        // Every hour whose window starts before `until` had a digest due.
        let (until, why) = if siblings_go_on {
            (
                latest_log,
                "the trail's digests in other regions go on and log files were delivered",
            )
        } else if latest_log >= last_end + Duration::hours(2) {
            // No sibling to vouch for the last hour: its digest may not have been due yet.
            (latest_log - CADENCE, "log files were delivered")
        } else {
            continue;
        };
        let mut end = last_end + CADENCE;
        while end - CADENCE < until {
            if range.holds_end(Some(end)) {
                out.push(DigestCheck {
                    key: digest_file_key(
                        &prefix_of(&last.key),
                        last.org_id.as_deref(),
                        &last.account_id,
                        &last.region,
                        &last.trail,
                        &last.home_region,
                        end,
                    ),
                    start_time: Some(end - CADENCE),
                    end_time: Some(end),
                    bucket: None,
                    object: None,
                    fingerprint: None,
                    previous_object: None,
                    previous_hash: None,
                    previous_signature: None,
                    log_file_count: None,
                    chain_start: false,
                    backfill: false,
                    status: DigestStatus::Missing,
                    detail: format!(
                        "after the chain's newest digest {} (ends {}): {why} until {}, so this hourly digest was due; deleted, or validation was turned off (look for UpdateTrail)",
                        last.key,
                        last_end.format("%Y-%m-%dT%H:%MZ"),
                        until.format("%Y-%m-%dT%H:%MZ")
                    ),
                    in_range: true,
                    ..(*last).clone()
                });
            }
            end += CADENCE;
        }
    }
    out
}

/// The store prefix before `AWSLogs/` in a digest key.
fn prefix_of(key: &str) -> String {
    key.find("AWSLogs/")
        .map_or(String::new(), |i| key[..i].to_string())
}
