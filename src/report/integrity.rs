//! The integrity of the trail in the report: `verify` totals and problems, `gaps` with their
//! classes, stop/restart episodes and the per-stream delivery timelines the HTML draws.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::integrity::{DigestStatus, GapReport, LogFileStatus, VerifyReport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegritySection {
    /// Every digest and log file valid, and no gap that is evidence of tampering.
    pub valid: bool,
    pub signatures_checked: bool,
    pub digests: Counts,
    pub log_files: Counts,
    /// Every digest or log file that is not valid, digests first, by key.
    pub problems: Vec<Problem>,
    pub gaps: Vec<GapEntry>,
    pub stops: Vec<StopEntry>,
    pub timelines: Vec<TimelineEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub valid: usize,
    pub total: usize,
    pub by_status: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `digest` or `log_file`.
    #[serde(rename = "type")]
    pub kind: String,
    pub key: String,
    pub account_id: String,
    pub region: String,
    pub status: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapEntry {
    pub account_id: String,
    pub region: String,
    pub start: String,
    pub end: String,
    pub hours: f64,
    pub class: String,
    /// Evidence of tampering (deleted_logs, unattested).
    pub critical: bool,
    pub evidence: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopEntry {
    pub trail: Option<String>,
    pub accounts: Vec<String>,
    pub event: String,
    pub stopped_at: String,
    pub stopped_by: Option<String>,
    pub source_ip: Option<String>,
    pub restarted_at: Option<String>,
    pub restarted_by: Option<String>,
}

/// One (account, region) stream: a cell per `step_secs`, `#` delivered, `.` quiet (under the
/// threshold, or a gap attested quiet by empty digests), and inside other gaps their class's
/// symbol (`X` deleted_logs, `!` unattested, `S` explained_stop, `?` no_validation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub account_id: String,
    pub region: String,
    pub start: String,
    pub step_secs: i64,
    pub cells: String,
}

pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn section(verified: &VerifyReport, gaps: &GapReport) -> IntegritySection {
    let mut digests = Counts::default();
    let mut log_files = Counts::default();
    let mut problems = Vec::new();
    for d in &verified.digests {
        count(
            &mut digests,
            d.status.as_str(),
            d.status == DigestStatus::Valid,
        );
        if d.status != DigestStatus::Valid {
            problems.push(Problem {
                kind: "digest".into(),
                key: d.key.clone(),
                account_id: d.account_id.clone(),
                region: d.region.clone(),
                status: d.status.as_str().into(),
                detail: d.detail.clone(),
            });
        }
    }
    for l in &verified.log_files {
        count(
            &mut log_files,
            l.status.as_str(),
            l.status == LogFileStatus::Valid,
        );
        if l.status != LogFileStatus::Valid {
            problems.push(Problem {
                kind: "log_file".into(),
                key: l.key.clone(),
                account_id: l.account_id.clone(),
                region: l.region.clone(),
                status: l.status.as_str().into(),
                detail: l.detail.clone(),
            });
        }
    }
    problems.sort_by(|a, b| (&a.kind, &a.key, &a.status).cmp(&(&b.kind, &b.key, &b.status)));
    let gap_entries: Vec<GapEntry> = gaps
        .gaps
        .iter()
        .map(|g| GapEntry {
            account_id: g.account_id.clone(),
            region: g.region.clone(),
            start: time(g.start),
            end: time(g.end),
            hours: ((g.end - g.start).num_minutes() as f64 / 60.0 * 10.0).round() / 10.0,
            class: g.class.as_str().into(),
            critical: g.class.is_critical(),
            evidence: g.evidence.clone(),
        })
        .collect();
    IntegritySection {
        valid: verified.is_valid() && !gaps.has_critical(),
        signatures_checked: verified.signatures_checked,
        digests,
        log_files,
        problems,
        gaps: gap_entries,
        stops: gaps
            .stops
            .iter()
            .map(|s| StopEntry {
                trail: s.trail.clone(),
                accounts: s.accounts.iter().cloned().collect(),
                event: s.event.clone(),
                stopped_at: time(s.stopped_at),
                stopped_by: s.stopped_by.clone(),
                source_ip: s.source_ip.clone(),
                restarted_at: s.restarted_at.map(time),
                restarted_by: s.restarted_by.clone(),
            })
            .collect(),
        timelines: gaps
            .timelines
            .iter()
            .map(|t| TimelineEntry {
                account_id: t.account_id.clone(),
                region: t.region.clone(),
                start: time(t.start),
                step_secs: t.step_secs,
                cells: t.cells.clone(),
            })
            .collect(),
    }
}

fn count(counts: &mut Counts, status: &str, valid: bool) {
    counts.total += 1;
    counts.valid += usize::from(valid);
    *counts.by_status.entry(status.to_string()).or_insert(0) += 1;
}
