//! Stop/restart episodes: the successful StopLogging, DeleteTrail and StartLogging calls that
//! explain a gap. The events come from the caller (SQL over `cloudtrail` lives a layer up); the
//! pairing of stops with restarts is decided here.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;

/// The events an episode is made of, as the caller's query must return them: one row per event,
/// in time order, with these columns (the time in whole seconds, `requestparameters` as JSON
/// text).
pub const STOP_EVENTS: &str = "SELECT to_unixtime(eventtime) AS t, eventname, \
    recipientaccountid, useridentity.arn AS arn, sourceipaddress, \
    CAST(requestparameters AS VARCHAR) AS params \
    FROM cloudtrail \
    WHERE eventsource = 'cloudtrail.amazonaws.com' \
      AND eventname IN ('StopLogging', 'DeleteTrail', 'StartLogging') \
      AND errorcode IS NULL \
    ORDER BY eventtime";

/// One row of [`STOP_EVENTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailEvent {
    pub at: DateTime<Utc>,
    pub event: String,
    pub recipient_account: Option<String>,
    pub arn: Option<String>,
    pub source_ip: Option<String>,
    /// `requestParameters` as JSON text.
    pub params: Option<String>,
}

/// Where [`super::gaps`] reads stop and restart events from.
#[async_trait::async_trait]
pub trait StopEventSource: Send + Sync {
    /// The range's events, of every account and region (a stop may be recorded in the trail's
    /// home region or its owner's account).
    async fn stop_events_in_range(&self) -> Result<Vec<TrailEvent>>;

    /// The same, in the `lookback` before the range's start only (none when the range has no
    /// start): the range itself was read already, and reading it again costs a second pass.
    async fn stop_events_before(&self, lookback: Duration) -> Result<Vec<TrailEvent>>;
}

/// A logging stop and its restart, from successful CloudTrail API calls in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopEpisode {
    /// The account whose events recorded it, and the account owning the trail (from its ARN).
    pub accounts: BTreeSet<String>,
    pub trail: Option<String>,
    pub event: String,
    pub stopped_at: DateTime<Utc>,
    pub stopped_by: Option<String>,
    pub source_ip: Option<String>,
    pub restarted_at: Option<DateTime<Utc>>,
    pub restarted_by: Option<String>,
    pub restart_source_ip: Option<String>,
}

/// Pairs stops with the restarts that follow them, per trail; repeated stops collapse into the
/// first, and a stop never restarted stays open.
pub fn episodes(events: Vec<TrailEvent>) -> Vec<StopEpisode> {
    let mut open: HashMap<String, StopEpisode> = HashMap::new();
    let mut out = Vec::new();
    for e in events {
        let trail_ref = e
            .params
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_string));
        let mut accounts = BTreeSet::new();
        accounts.extend(e.recipient_account.clone());
        // `arn:aws:cloudtrail:region:ACCOUNT:trail/NAME`: the owner's account is stopped too.
        let (owner, trail_name) = match trail_ref
            .as_deref()
            .map(|n| n.split(':').collect::<Vec<_>>())
        {
            Some(parts) if parts.len() == 6 => (
                Some(parts[4].to_string()),
                parts[5].strip_prefix("trail/").map(str::to_string),
            ),
            _ => (None, trail_ref.clone()),
        };
        accounts.extend(owner.clone());
        let id = format!(
            "{}/{}",
            owner
                .or_else(|| e.recipient_account.clone())
                .unwrap_or_default(),
            trail_name.clone().unwrap_or_default()
        );
        if e.event == "StartLogging" {
            if let Some(mut episode) = open.remove(&id) {
                episode.restarted_at = Some(e.at);
                episode.restarted_by = e.arn;
                episode.restart_source_ip = e.source_ip;
                episode.accounts.extend(accounts);
                out.push(episode);
            }
        } else {
            open.entry(id).or_insert(StopEpisode {
                accounts,
                trail: trail_name,
                event: e.event,
                stopped_at: e.at,
                stopped_by: e.arn,
                source_ip: e.source_ip,
                restarted_at: None,
                restarted_by: None,
                restart_source_ip: None,
            });
        }
    }
    out.extend(open.into_values());
    out.sort_by_key(|e| e.stopped_at);
    out
}
