//! `--baseline`: what is new, resolved and unchanged since a previous report.
//!
//! A failing finding is the same one in both reports when its control, resource, account and
//! region are: windows move with the period, so they are not part of the identity.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ComplianceReport, ControlResult};
use crate::controls::{Severity, Status};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub baseline_period: String,
    pub baseline_sha256: Option<String>,
    /// Failing now, not in the baseline.
    pub new: Vec<ChangedFinding>,
    /// Failing in the baseline, not now.
    pub resolved: Vec<ChangedFinding>,
    /// Failing in both.
    pub unchanged: Vec<ChangedFinding>,
    /// Controls whose overall status moved.
    pub status_changes: Vec<StatusChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChangedFinding {
    pub control_id: String,
    pub severity: Severity,
    pub resource: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub control_id: String,
    pub from: Status,
    pub to: Status,
}

type Identity = (String, String, Option<String>, Option<String>);

fn failing(controls: &[ControlResult]) -> BTreeMap<Identity, ChangedFinding> {
    let mut out = BTreeMap::new();
    for c in controls {
        for f in c.findings.iter().filter(|f| f.status == Status::Fail) {
            let id = (
                c.id.clone(),
                f.resource.clone(),
                f.account_id.clone(),
                f.region.clone(),
            );
            out.entry(id).or_insert_with(|| ChangedFinding {
                control_id: c.id.clone(),
                severity: c.severity,
                resource: f.resource.clone(),
                account_id: f.account_id.clone(),
                region: f.region.clone(),
                title: c.title.clone(),
            });
        }
    }
    out
}

pub fn compare(baseline: &ComplianceReport, now: &[ControlResult]) -> Changes {
    let before = failing(&baseline.controls);
    let after = failing(now);
    let sorted = |mut v: Vec<ChangedFinding>| {
        v.sort_by(|a, b| {
            (a.severity, &a.control_id, &a.resource).cmp(&(b.severity, &b.control_id, &b.resource))
        });
        v
    };
    let pick = |from: &BTreeMap<Identity, ChangedFinding>, keep: &dyn Fn(&Identity) -> bool| {
        sorted(
            from.iter()
                .filter(|(k, _)| keep(k))
                .map(|(_, f)| f.clone())
                .collect(),
        )
    };
    let then: BTreeMap<&str, Status> = baseline
        .controls
        .iter()
        .map(|c| (c.id.as_str(), c.status))
        .collect();
    Changes {
        baseline_period: baseline.period.label.clone(),
        baseline_sha256: baseline.manifest.report_sha256.clone(),
        new: pick(&after, &|k| !before.contains_key(k)),
        resolved: pick(&before, &|k| !after.contains_key(k)),
        unchanged: pick(&after, &|k| before.contains_key(k)),
        status_changes: now
            .iter()
            .filter_map(|c| {
                let from = *then.get(c.id.as_str())?;
                (from != c.status).then(|| StatusChange {
                    control_id: c.id.clone(),
                    from,
                    to: c.status,
                })
            })
            .collect(),
    }
}
