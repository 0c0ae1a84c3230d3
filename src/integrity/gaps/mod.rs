//! `gaps`: intervals with no delivered log files, per (account, region), each classified with
//! evidence.
//!
//! A gap is two consecutive delivery stamps further apart than a threshold (and the edges of the
//! range). What makes it innocent or not (docs/forensics.md):
//! - `deleted_logs`: digests list files delivered inside it that are gone (critical);
//! - `unattested`: validation was on, but the digests that should cover it are missing (critical);
//! - `explained_stop`: it overlaps a StopLogging/DeleteTrail → StartLogging episode recorded in the
//!   archive's own events (who, from where, when logging came back);
//! - `attested_quiet`: present digests cover it and list nothing in it (CloudTrail attests silence);
//! - `no_validation`: no digests around it: cannot be proved either way.
//!
//! The classes are tried in that order: the most damning evidence names the gap.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::chain::{DigestCheck, DigestStatus};
use super::verify::{DigestReadings, Listed, VerifyOptions, check_all, digests_of};
use crate::archive::layout::parse_key;
use crate::archive::{Location, ObjectKind, Scope, list_objects};
use crate::error::Result;

mod stops;
pub use stops::{STOP_EVENTS, StopEpisode, StopEventSource, TrailEvent, episodes};

#[derive(Debug, Clone)]
pub struct GapOptions {
    /// Stamps further apart than this make a gap.
    pub threshold: Duration,
    /// Only this trail's digests count as attestation.
    pub trail: Option<String>,
    /// How far before the range to look for the StopLogging that explains a gap at its start.
    pub stop_lookback: Duration,
    /// Whether a digest that cannot be fetched (after retries) is left out of the attestation
    /// instead of failing the run.
    pub allow_partial: bool,
    /// The scope's digests, already read for another check of the same command (the report's
    /// verify): not read again.
    pub digests: Option<DigestReadings>,
}

impl Default for GapOptions {
    fn default() -> Self {
        GapOptions {
            threshold: Duration::minutes(60),
            trail: None,
            stop_lookback: Duration::days(7),
            allow_partial: false,
            digests: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapClass {
    DeletedLogs,
    Unattested,
    ExplainedStop,
    AttestedQuiet,
    NoValidation,
}

impl GapClass {
    pub fn as_str(self) -> &'static str {
        match self {
            GapClass::DeletedLogs => "deleted_logs",
            GapClass::Unattested => "unattested",
            GapClass::ExplainedStop => "explained_stop",
            GapClass::AttestedQuiet => "attested_quiet",
            GapClass::NoValidation => "no_validation",
        }
    }

    /// The timeline character.
    pub fn symbol(self) -> char {
        match self {
            GapClass::DeletedLogs => 'X',
            GapClass::Unattested => '!',
            GapClass::ExplainedStop => 'S',
            GapClass::AttestedQuiet => '.',
            GapClass::NoValidation => '?',
        }
    }

    /// Evidence of tampering (the controls call these critical).
    pub fn is_critical(self) -> bool {
        matches!(self, GapClass::DeletedLogs | GapClass::Unattested)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub account_id: String,
    pub region: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub class: GapClass,
    pub evidence: Value,
}

/// A compact per-(account, region) timeline: one character per `step`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub account_id: String,
    pub region: String,
    pub start: DateTime<Utc>,
    pub step_secs: i64,
    pub cells: String,
}

#[derive(Debug, Clone)]
pub struct GapReport {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub threshold: Duration,
    pub gaps: Vec<Gap>,
    pub stops: Vec<StopEpisode>,
    pub timelines: Vec<Timeline>,
}

impl GapReport {
    pub fn has_critical(&self) -> bool {
        self.gaps.iter().any(|g| g.class.is_critical())
    }
}

type Stream = (String, String);
/// A listed log file that is gone: (delivery stamp, store key, digest key).
type Gone<'a> = (DateTime<Utc>, &'a str, &'a str);

/// Finds and classifies the delivery gaps of `scope`. The trail's stop and restart events,
/// which explain some gaps, come from the caller (`events`): reading them is SQL over
/// `cloudtrail`, a layer above this one.
pub async fn gaps(
    location: &Location,
    scope: &Scope,
    options: &GapOptions,
    events: &dyn StopEventSource,
) -> Result<GapReport> {
    let verify_options = VerifyOptions {
        trail: None,
        allow_partial: options.allow_partial,
        digests: options.digests.clone(),
        ..VerifyOptions::default()
    };
    let phase = digests_of(location, scope, &verify_options).await?;
    let checks: Vec<DigestCheck> = check_all(phase.inputs.clone(), None, phase.range)
        .await?
        .into_iter()
        .filter(|c| options.trail.as_deref().is_none_or(|t| t == c.trail))
        .collect();

    // Log files a little beyond the range, so that presence of listed files near the edges is known.
    let mut wide = scope.clone();
    wide.late_margin = Duration::hours(3);
    wide.from = scope.from.map(|f| f - Duration::hours(3));
    let listing = list_objects(location, ObjectKind::Log, &wide).await?;
    let present: HashSet<&str> = listing.objects.iter().map(|o| o.key.as_str()).collect();

    let mut stamps: BTreeMap<Stream, Vec<DateTime<Utc>>> = BTreeMap::new();
    for o in &listing.objects {
        if let Some(t) = o.parsed.stamp {
            stamps
                .entry((o.parsed.account_id.clone(), o.parsed.region.clone()))
                .or_default()
                .push(t);
        }
    }
    for c in checks.iter().filter(|c| c.in_range) {
        stamps
            .entry((c.account_id.clone(), c.region.clone()))
            .or_default();
    }
    let all = stamps.values().flatten().copied();
    let (lo, hi) = all.fold(
        (None, None),
        |(lo, hi): (Option<DateTime<Utc>>, Option<DateTime<Utc>>), t| {
            (
                Some(lo.map_or(t, |l| l.min(t))),
                Some(hi.map_or(t, |h| h.max(t))),
            )
        },
    );
    let start = scope.from.or(lo).unwrap_or_default();
    let end = scope.to.or(hi).unwrap_or(start);

    let evidence = Evidence::new(&checks, &phase.listed, &present);
    // Stops inside the range first. The days before it are read only when a gap at the range's
    // start is left unexplained (neither attested quiet nor a stop), since a stop before the
    // range may explain it; so a month's report reads that month's prefixes in the usual case.
    let in_range = events.stop_events_in_range().await?;
    let mut stops = episodes(in_range.clone());
    let mut streams = classify_streams(&stamps, (start, end), options, &evidence, &stops);
    let unexplained_at_start = streams.iter().flat_map(|(_, _, gaps)| gaps).any(|g| {
        g.start == start && !matches!(g.class, GapClass::AttestedQuiet | GapClass::ExplainedStop)
    });
    // Without a start, the range is the whole archive: nothing comes before it.
    if unexplained_at_start && options.stop_lookback > Duration::zero() && scope.from.is_some() {
        // Earlier events first: the episodes are paired in time order.
        let mut all = events.stop_events_before(options.stop_lookback).await?;
        all.extend(in_range);
        stops = episodes(all);
        streams = classify_streams(&stamps, (start, end), options, &evidence, &stops);
    }
    let mut found = Vec::new();
    let mut timelines = Vec::new();
    for ((account, region), times, stream_gaps) in streams {
        timelines.push(timeline(
            &account,
            &region,
            start,
            end,
            &times,
            &stream_gaps,
        ));
        found.extend(stream_gaps);
    }
    Ok(GapReport {
        start,
        end,
        threshold: options.threshold,
        gaps: found,
        stops,
        timelines,
    })
}

/// Each stream's delivery stamps inside `[start, end)` and its gaps, classified.
fn classify_streams(
    stamps: &BTreeMap<Stream, Vec<DateTime<Utc>>>,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    options: &GapOptions,
    evidence: &Evidence<'_>,
    stops: &[StopEpisode],
) -> Vec<(Stream, Vec<DateTime<Utc>>, Vec<Gap>)> {
    stamps
        .iter()
        .map(|((account, region), times)| {
            let mut times: Vec<DateTime<Utc>> = times
                .iter()
                .copied()
                .filter(|t| *t >= start && *t < end)
                .collect();
            times.sort();
            let mut cursor = start;
            let mut gaps = Vec::new();
            for t in times.iter().copied().chain(std::iter::once(end)) {
                if t - cursor > options.threshold {
                    gaps.push(evidence.classify(account, region, cursor, t, stops));
                }
                cursor = cursor.max(t);
            }
            ((account.clone(), region.clone()), times, gaps)
        })
        .collect()
}

/// What the digests say, indexed by stream.
struct Evidence<'a> {
    checks: HashMap<Stream, Vec<&'a DigestCheck>>,
    /// Listed files that are gone: (stamp, store key, digest key).
    gone: HashMap<Stream, Vec<Gone<'a>>>,
}

impl<'a> Evidence<'a> {
    fn new(checks: &'a [DigestCheck], listed: &'a [Listed], present: &HashSet<&str>) -> Self {
        let mut by_stream: HashMap<Stream, Vec<&DigestCheck>> = HashMap::new();
        for c in checks {
            by_stream
                .entry((c.account_id.clone(), c.region.clone()))
                .or_default()
                .push(c);
        }
        let mut gone: HashMap<Stream, Vec<_>> = HashMap::new();
        for l in listed {
            if present.contains(l.store_key.as_str()) {
                continue;
            }
            let Some(k) = parse_key(&l.object) else {
                continue;
            };
            let Some(stamp) = k.stamp else { continue };
            gone.entry((k.account_id, k.region)).or_default().push((
                stamp,
                l.store_key.as_str(),
                l.digest_key.as_str(),
            ));
        }
        Evidence {
            checks: by_stream,
            gone,
        }
    }

    fn classify(
        &self,
        account: &str,
        region: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        stops: &[StopEpisode],
    ) -> Gap {
        let id = (account.to_string(), region.to_string());
        let gap = |class: GapClass, evidence: Value| Gap {
            account_id: account.to_string(),
            region: region.to_string(),
            start,
            end,
            class,
            evidence,
        };
        let overlaps = |s: DateTime<Utc>, e: DateTime<Utc>| s < end && e > start;

        let gone: Vec<_> = self
            .gone
            .get(&id)
            .into_iter()
            .flatten()
            .filter(|(t, _, _)| *t > start && *t < end)
            .collect();
        if !gone.is_empty() {
            let digests: BTreeSet<&str> = gone.iter().map(|(_, _, d)| *d).collect();
            return gap(
                GapClass::DeletedLogs,
                json!({
                    "missing_log_files": gone.iter().map(|(_, k, _)| *k).collect::<Vec<_>>(),
                    "listed_by": digests,
                }),
            );
        }
        let checks = self.checks.get(&id).map(Vec::as_slice).unwrap_or_default();
        let window = |c: &DigestCheck| {
            let e = c.end_time?;
            Some((c.start_time.unwrap_or(e - super::chain::CADENCE), e))
        };
        let missing: Vec<&str> = checks
            .iter()
            .filter(|c| c.status == DigestStatus::Missing)
            .filter(|c| window(c).is_some_and(|(s, e)| overlaps(s, e)))
            .map(|c| c.key.as_str())
            .collect();
        if !missing.is_empty() {
            return gap(GapClass::Unattested, json!({ "missing_digests": missing }));
        }
        let mut covering: Vec<(DateTime<Utc>, DateTime<Utc>, &str)> = checks
            .iter()
            .filter(|c| {
                !matches!(
                    c.status,
                    DigestStatus::Missing | DigestStatus::Unreadable | DigestStatus::Unfetched
                )
            })
            .filter_map(|c| window(c).map(|(s, e)| (s, e, c.key.as_str())))
            .filter(|(s, e, _)| overlaps(*s, *e))
            .collect();
        covering.sort();
        let uncovered = uncovered(start, end, &covering);
        let slack = Duration::minutes(5);
        if !covering.is_empty() && uncovered.iter().all(|(s, e)| *e - *s <= slack) {
            return gap(
                GapClass::AttestedQuiet,
                json!({
                    "digests": covering.len(),
                    "first_digest": covering.first().map(|c| c.2),
                    "last_digest": covering.last().map(|c| c.2),
                }),
            );
        }
        // What the digests do not cover is explained when logging was stopped then.
        let unexplained: Vec<_> = uncovered.iter().filter(|(s, e)| *e - *s > slack).collect();
        if let Some(stop) = stops.iter().find(|s| {
            let until = s.restarted_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
            s.accounts.contains(account)
                && unexplained
                    .iter()
                    .any(|(a, b)| (*b).min(until) - (*a).max(s.stopped_at) > slack)
        }) {
            return gap(
                GapClass::ExplainedStop,
                json!({
                    "event": stop.event,
                    "trail": stop.trail,
                    "stopped_at": stop.stopped_at,
                    "stopped_by": stop.stopped_by,
                    "source_ip": stop.source_ip,
                    "restarted_at": stop.restarted_at,
                    "restarted_by": stop.restarted_by,
                    "restart_source_ip": stop.restart_source_ip,
                }),
            );
        }
        gap(
            GapClass::NoValidation,
            json!({
                "digests_covering": covering.len(),
                "uncovered": uncovered
                    .iter()
                    .filter(|(s, e)| *e - *s > slack)
                    .map(|(s, e)| json!([s, e]))
                    .collect::<Vec<_>>(),
            }),
        )
    }
}

/// The parts of `[start, end)` no window covers; `windows` sorted by start.
fn uncovered(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    windows: &[(DateTime<Utc>, DateTime<Utc>, &str)],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut cursor = start;
    for (s, e, _) in windows {
        if *s > cursor {
            out.push((cursor, (*s).min(end)));
        }
        cursor = cursor.max(*e);
        if cursor >= end {
            break;
        }
    }
    if cursor < end {
        out.push((cursor, end));
    }
    out
}

fn timeline(
    account: &str,
    region: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    stamps: &[DateTime<Utc>],
    gaps: &[Gap],
) -> Timeline {
    let step = if end - start <= Duration::days(7) {
        Duration::hours(1)
    } else {
        Duration::days(1)
    };
    let mut cells = String::new();
    let mut t = start;
    let mut i = 0;
    while t < end && cells.len() < 10_000 {
        let next = t + step;
        while i < stamps.len() && stamps[i] < t {
            i += 1;
        }
        let delivered = i < stamps.len() && stamps[i] < next;
        // Inside a gap means overlapping it by more than a few minutes (its edges are stamps).
        let worst = gaps
            .iter()
            .filter(|g| g.start < next - Duration::minutes(5) && g.end > t + Duration::minutes(5))
            .map(|g| g.class)
            .min();
        let c = match (delivered, worst) {
            (true, Some(class))
                if step > Duration::hours(1) && class != GapClass::AttestedQuiet =>
            {
                class.symbol()
            }
            (true, _) => '#',
            (false, Some(class)) => class.symbol(),
            (false, None) => '.',
        };
        cells.push(c);
        t = next;
    }
    Timeline {
        account_id: account.to_string(),
        region: region.to_string(),
        start,
        step_secs: step.num_seconds(),
        cells,
    }
}
