//! Periodic compliance reports: `trailscope report`.
//!
//! One run gathers, for a period: every control's verdict with its evidence ([`crate::controls`]),
//! the integrity of the trail itself ([`crate::integrity`]: digests, log files, gaps, stops), an
//! activity overview ([`activity`], SQL under `queries/report/`), a per-framework summary
//! ([`frameworks`]), what changed since a previous report ([`diff`]) and an evidence manifest
//! ([`manifest`]). The result is one [`ComplianceReport`] value; [`render`] turns it into HTML,
//! Markdown, JSON, CSV or OCSF.
//!
//! A report is a function of its inputs: no wall clock, no machine paths, every list in a fixed
//! order. Run twice on the same archive, snapshots and options, it is the same bytes, and its
//! manifest names every input so a reader can check that.

pub mod activity;
pub mod detections;
pub mod diff;
pub mod frameworks;
pub mod integrity;
pub mod manifest;
pub mod render;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::archive::{Readings, ScanStats};
use crate::controls::{self, Control, Finding, Kind, ParamValues, Severity, Status};
use crate::error::{Error, Result};
use crate::integrity::{GapOptions, KeySource, VerifyOptions};
use crate::snapshot::Snapshot;
use crate::table::{self, TableSource};

pub use frameworks::Framework;

/// The JSON document's format name; bumped on any incompatible change.
pub const FORMAT: &str = "trailscope.report/1";

/// The reporting period: `[from, to)`, and how the user named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// `2026-10` (a month), `2026-Q4` (a quarter) or `2026` (a year).
    pub fn parse(text: &str) -> std::result::Result<Period, String> {
        let bad =
            || format!("{text:?}: give a month (2026-10), a quarter (2026-Q4) or a year (2026)");
        let start = |y: i32, m: u32| -> std::result::Result<DateTime<Utc>, String> {
            NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| Utc.from_utc_datetime(&t))
                .ok_or_else(bad)
        };
        let months_later = |t: DateTime<Utc>, n: u32| {
            let index = t.year() * 12 + t.month0() as i32 + n as i32;
            start(index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
        };
        let (from, months) = match text.split_once('-') {
            None => (start(text.parse().map_err(|_| bad())?, 1)?, 12),
            Some((y, q)) if q.starts_with(['Q', 'q']) => {
                let quarter: u32 = q[1..].parse().map_err(|_| bad())?;
                if !(1..=4).contains(&quarter) {
                    return Err(bad());
                }
                (
                    start(y.parse().map_err(|_| bad())?, (quarter - 1) * 3 + 1)?,
                    3,
                )
            }
            Some((y, m)) => (
                start(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?)?,
                1,
            ),
        };
        Ok(Period {
            label: text.to_string(),
            from,
            to: months_later(from, months)?,
        })
    }

    /// A period given as `--from/--to`.
    pub fn between(from: DateTime<Utc>, to: DateTime<Utc>) -> Period {
        Period {
            label: format!("{} to {}", from.format("%Y-%m-%d"), to.format("%Y-%m-%d")),
            from,
            to,
        }
    }
}

/// What a report is built from, besides the archive.
#[derive(Debug, Clone)]
pub struct ReportInputs {
    pub period: Period,
    /// The archive as the user named it (recorded; never a resolved machine path).
    pub archive: String,
    pub snapshots: Vec<(String, Snapshot, Vec<u8>)>,
    pub controls: Vec<Control>,
    pub values: ParamValues,
    pub frameworks: Vec<Framework>,
    pub keys: KeySource,
    pub signatures: std::collections::HashMap<String, String>,
    pub gap_threshold: Duration,
    pub baseline: Option<ComplianceReport>,
    /// Sigma rules to run over the period (none: no detections section).
    pub rules: Option<crate::detect::RuleSet>,
}

/// The report, as the JSON format documents it (docs/report-json.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceReport {
    pub format: String,
    pub tool: Tool,
    pub period: Period,
    pub scope: ReportScope,
    pub summary: Summary,
    pub frameworks: Vec<frameworks::FrameworkSummary>,
    pub controls: Vec<ControlResult>,
    pub integrity: integrity::IntegritySection,
    pub activity: activity::ActivitySection,
    /// The period's detection hits, when rules ran (absent in reports made without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detections: Option<detections::DetectionsSection>,
    /// Objects that look like CloudTrail's but could not be read (never dropped silently).
    pub read_errors: Vec<ReadErrorEntry>,
    pub changes: Option<diff::Changes>,
    pub manifest: manifest::Manifest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportScope {
    pub archive: String,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Log files delivered this long after the period still count (late delivery).
    pub late_margin_hours: i64,
    pub frameworks: Vec<String>,
    /// Control parameters in effect, by name (`--param`, snapshot profile, default).
    pub parameters: BTreeMap<String, Value>,
    pub gap_threshold_minutes: i64,
    pub signatures_checked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub controls: usize,
    pub failing: usize,
    pub inconclusive: usize,
    pub passing: usize,
    /// Failing controls by severity (critical, high, medium, low, info).
    pub failing_by_severity: BTreeMap<String, usize>,
    pub integrity_valid: bool,
    pub critical_gaps: usize,
    pub read_errors: usize,
    /// Of `read_errors`, the objects that could not be fetched: the report is partial.
    #[serde(default)]
    pub unfetched: usize,
    pub events: u64,
}

/// One control's verdict: the worst of its findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlResult {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub kind: Kind,
    pub domain: String,
    pub status: Status,
    pub description: Option<String>,
    pub remediation: String,
    /// Requirement ids by framework id (`cis`, `nist`, ...), as in [`Framework::id`].
    pub requirements: BTreeMap<String, Vec<String>>,
    /// For an inconclusive control: what it lacked, from its findings' evidence.
    pub lacks: Vec<String>,
    pub findings: Vec<FindingEntry>,
}

/// A finding with its evidence as JSON (not JSON text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingEntry {
    pub status: Status,
    pub resource: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub evidence: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadErrorEntry {
    pub key: String,
    pub reason: String,
    /// `unreadable` (the bytes are bad) or `unfetched` (they could not be fetched, so the
    /// report is partial); reports made before the distinction existed read as `unreadable`.
    #[serde(default = "unreadable")]
    pub class: String,
}

fn unreadable() -> String {
    "unreadable".into()
}

/// Builds the report for `inputs.period` over `source` (whose scope must already be the period).
pub async fn build(source: &TableSource, inputs: &ReportInputs) -> Result<ComplianceReport> {
    if inputs.period.from >= inputs.period.to {
        return Err(Error::usage(
            "the report period is empty: its start must be before its end",
        ));
    }
    let snapshots: Vec<Snapshot> = inputs.snapshots.iter().map(|(_, s, _)| s.clone()).collect();
    // The scan records the hashes of every log file it reads, so verify and the manifest do not
    // read them again (same errors and counters: the clone shares them).
    let mut source = source.clone();
    source.archive.readings = Some(Arc::new(Readings::default()));
    // The scan, verify, the gap analysis and the manifest each list the period's folders: once
    // for all of them, so they also see one state of the archive.
    source.archive.location = source.archive.location.remembering_listings();
    let source = &source;

    // One scan of the period: it keeps the rows the controls and the gap analysis's stop events
    // read, and counts every event into the activity rollup on the way.
    let ctx = table::evidence_session(source, &snapshots).await?;
    let mut rollup = activity::Rollup::default();
    let mut count = |batch: datafusion::arrow::record_batch::RecordBatch| rollup.add(&batch);
    let runnable = inputs
        .rules
        .as_ref()
        .map(crate::detect::RuleSet::runnable)
        .unwrap_or_default();
    // Rules are evaluated in the same pass, each event's flags beside its activity columns.
    let pass = match &inputs.rules {
        Some(_) => Some(crate::detect::run::prepare(&ctx, source, &runnable).await?),
        None => None,
    };
    // The matched events are held as `detect` holds them (past its budget, a temporary file never
    // inside the archive). Writing them out and reading them back cost more than holding them:
    // the benchmark's month (589,435 matched events, most of them the read-only calls a
    // correlation counts) is held in about 75 MiB, and its report took 5.72 s against 6.15 s
    // with a 32 MiB budget (medians of three alternating runs; peak about 550 MiB against 480).
    let mut matched = pass.as_ref().map(|p| {
        let archive = source.archive.location.local_dir.clone();
        p.collector()
            .spilling_past(crate::detect::matches::MEMORY_BUDGET, archive)
    });
    let mut keep = |batch: datafusion::arrow::record_batch::RecordBatch| match &mut matched {
        Some(collector) => collector.add(batch),
        None => Ok(()),
    };
    // Given --geoip or --asn, the rollup also counts where each event came from.
    let places = source.enrichment.locates();
    let activity_rows = activity::rows_sql(places)?;
    let mut along = vec![table::shared_scan::AlongSide {
        select: &activity_rows,
        sink: &mut count,
    }];
    if let Some(pass) = &pass {
        along.push(pass.along(&mut keep));
    }
    controls::share_scan(
        &ctx,
        &inputs.controls,
        &inputs.values,
        &[crate::integrity::gaps::STOP_EVENTS],
        along,
    )
    .await?;
    // What follows the scan reads the kept rows, the matched events or the digests, each on its
    // own: the controls, the rules, the activity tables and the gap analysis run at once (each
    // plans on one core for much of its time).
    let registered = match (pass.as_ref(), matched) {
        (Some(pass), Some(collector)) => Some(collector.register(&ctx, pass.schema()).await?),
        _ => None,
    };
    let mut verify_options = VerifyOptions {
        readings: source.readings.clone(),
        keys: inputs.keys.clone(),
        signatures: inputs.signatures.clone(),
        allow_partial: source.allow_partial,
        ..VerifyOptions::default()
    };
    let (activity, outcome, hits, (digests, gaps)) = tokio::try_join!(
        activity::summarize(rollup, &inputs.period, places),
        controls::run_controls(&ctx, &inputs.controls, &inputs.values),
        async {
            match pass {
                Some(pass) => crate::detect::run::run_rules(&ctx, pass).await.map(Some),
                None => Ok(None),
            }
        },
        async {
            // The gap analysis and verify read the same digests: once, here.
            let digests = crate::integrity::read_digests_once(
                &source.location,
                &source.scope,
                &verify_options,
            )
            .await?;
            let gap_options = GapOptions {
                threshold: inputs.gap_threshold,
                digests: Some(digests.clone()),
                ..GapOptions::default()
            };
            // Stops recorded in another account (an organization trail's owner) or region count
            // too, so the shared rows stand in for a scan only when the report is not narrowed
            // to some of them.
            let whole = source.scope.accounts.is_empty() && source.scope.regions.is_empty();
            let gaps = crate::table::stop_events::gaps(source, &gap_options, whole.then_some(&ctx))
                .await?;
            Ok::<_, Error>((digests, gaps))
        },
    )?;
    drop(registered);
    verify_options.digests = Some(digests);
    // The shared rows and the matched events are not read again: their memory goes before
    // verify, the other large step, begins.
    drop(ctx);
    // Scanned on a cluster: the executors hash the log files, not this machine.
    if let (Some(readings), Some(elsewhere)) = (&source.readings, &source.readings_elsewhere) {
        let hashed = elsewhere.fill(readings).await?;
        ScanStats::add(&source.stats.objects_hashed_elsewhere, hashed as u64);
    }
    // Verify checks the digests; the manifest lists and hashes every input: neither reads the
    // other's result. Verify runs on a task of its own, so that it has a core while this task
    // writes the sections below and collects the manifest (joined on one task, the two took
    // turns on one core: profile). A manifest that fails drops the set, which stops verify.
    let (location, scope) = (source.location.clone(), source.scope.clone());
    let mut verifying = tokio::task::JoinSet::new();
    verifying
        .spawn(async move { crate::integrity::verify(&location, &scope, &verify_options).await });
    let controls = control_results(&inputs.controls, &outcome.findings);
    let detections = inputs
        .rules
        .as_ref()
        .zip(hits)
        .map(|(set, hits)| detections::section(set, &hits));
    let mut manifest = manifest::collect(source, inputs).await?;
    let verified = verifying
        .join_next()
        .await
        .ok_or_else(|| Error::Runtime("verifying the digests: the task was lost".into()))?
        .map_err(|e| Error::Runtime(format!("verifying the digests: {e}")))??;
    let integrity = integrity::section(&verified, &gaps);

    let read_errors: Vec<ReadErrorEntry> = source
        .errors
        .all()
        .into_iter()
        .map(|e| ReadErrorEntry {
            class: e.class().to_string(),
            key: e.key,
            reason: e.reason,
        })
        .collect();
    let frameworks = frameworks::summarize(&inputs.frameworks, &controls);
    let summary = summary(&controls, &integrity, &read_errors, &activity);
    manifest.enrichment = manifest::enrichment_files(&source.enrichment);
    let changes = inputs
        .baseline
        .as_ref()
        .map(|b| diff::compare(b, &controls));

    let mut report = ComplianceReport {
        format: FORMAT.to_string(),
        tool: Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        period: inputs.period.clone(),
        scope: ReportScope {
            archive: inputs.archive.clone(),
            accounts: source.scope.accounts.iter().cloned().collect(),
            regions: source.scope.regions.iter().cloned().collect(),
            late_margin_hours: source.scope.late_margin.num_hours(),
            frameworks: inputs
                .frameworks
                .iter()
                .map(|f| f.id().to_string())
                .collect(),
            parameters: effective_parameters(&inputs.controls, &inputs.values),
            gap_threshold_minutes: inputs.gap_threshold.num_minutes(),
            signatures_checked: verified.signatures_checked,
        },
        summary,
        frameworks,
        controls,
        integrity,
        activity,
        detections,
        read_errors,
        changes,
        manifest,
    };
    manifest::seal(&mut report)?;
    Ok(report)
}

/// Findings grouped by control, in catalog order by severity then id; a control's status is its
/// worst finding's.
fn control_results(catalog: &[Control], findings: &[Finding]) -> Vec<ControlResult> {
    let mut out: Vec<ControlResult> = catalog
        .iter()
        .map(|c| {
            let mine: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.control_id == c.meta.id)
                .collect();
            let status = mine
                .iter()
                .map(|f| f.status)
                .min()
                .unwrap_or(Status::Inconclusive);
            let lacks = if status == Status::Inconclusive {
                mine.iter()
                    .filter(|f| f.status == Status::Inconclusive)
                    .filter_map(|f| lack_of(&f.evidence))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            };
            ControlResult {
                id: c.meta.id.clone(),
                title: c.meta.title.clone(),
                severity: c.meta.severity,
                kind: c.meta.kind,
                domain: c.meta.domain.clone(),
                status,
                description: c.meta.description.clone(),
                remediation: c.meta.remediation.clone(),
                requirements: frameworks::requirements_of(&c.meta),
                lacks,
                findings: mine.into_iter().map(entry).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.status, a.severity, &a.id).cmp(&(b.status, b.severity, &b.id)));
    out
}

fn entry(f: &Finding) -> FindingEntry {
    FindingEntry {
        status: f.status,
        resource: f.resource.clone(),
        account_id: f.account_id.clone(),
        region: f.region.clone(),
        window_start: f.window_start.clone(),
        window_end: f.window_end.clone(),
        evidence: serde_json::from_str(&f.evidence).unwrap_or(Value::String(f.evidence.clone())),
    }
}

/// What an inconclusive finding says it lacked: its `reason`, `missing` or `error`.
fn lack_of(evidence: &str) -> Option<String> {
    let value: Value = serde_json::from_str(evidence).ok()?;
    for key in ["missing", "reason", "error", "lacks"] {
        match value.get(key) {
            Some(Value::String(s)) => return Some(s.clone()),
            Some(Value::Array(items)) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect();
                return Some(parts.join(", "));
            }
            Some(other) if !other.is_null() => return Some(other.to_string()),
            _ => {}
        }
    }
    None
}

fn summary(
    controls: &[ControlResult],
    integrity: &integrity::IntegritySection,
    read_errors: &[ReadErrorEntry],
    activity: &activity::ActivitySection,
) -> Summary {
    let count = |s: Status| controls.iter().filter(|c| c.status == s).count();
    let mut failing_by_severity = BTreeMap::new();
    for c in controls.iter().filter(|c| c.status == Status::Fail) {
        *failing_by_severity
            .entry(c.severity.as_str().to_string())
            .or_insert(0) += 1;
    }
    Summary {
        controls: controls.len(),
        failing: count(Status::Fail),
        inconclusive: count(Status::Inconclusive),
        passing: count(Status::Pass),
        failing_by_severity,
        integrity_valid: integrity.valid,
        critical_gaps: integrity.gaps.iter().filter(|g| g.critical).count(),
        read_errors: read_errors.len(),
        unfetched: read_errors
            .iter()
            .filter(|e| e.class == "unfetched")
            .count(),
        events: activity.totals.events,
    }
}

/// Every parameter a control declares, with the value it ran with (`null` when unset).
fn effective_parameters(catalog: &[Control], values: &ParamValues) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for control in catalog {
        for (name, spec) in &control.meta.parameters {
            let value = values
                .value(name)
                .or_else(|| spec.default.clone())
                .unwrap_or(Value::Null);
            out.insert(name.clone(), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let p = Period::parse("2026-10").unwrap();
        assert_eq!(p.from.to_rfc3339(), "2026-10-01T00:00:00+00:00");
        assert_eq!(p.to.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        let q = Period::parse("2026-Q4").unwrap();
        assert_eq!(q.to.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let y = Period::parse("2025").unwrap();
        assert_eq!(y.from.to_rfc3339(), "2025-01-01T00:00:00+00:00");
        assert_eq!(y.to.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        for bad in ["2026-13", "2026-Q5", "October", "2026-1x"] {
            assert!(Period::parse(bad).unwrap_err().contains("a month"), "{bad}");
        }
    }

    #[test]
    fn lacks_come_from_the_evidence() {
        assert_eq!(
            lack_of(r#"{"reason":"parameter x is not set"}"#).as_deref(),
            Some("parameter x is not set")
        );
        assert_eq!(
            lack_of(r#"{"missing":["trails","alarms"]}"#).as_deref(),
            Some("trails, alarms")
        );
        assert_eq!(lack_of(r#"{"events":[]}"#), None);
    }
}
