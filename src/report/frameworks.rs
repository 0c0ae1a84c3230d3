//! Compliance frameworks: which requirements each control speaks to, and each framework's summary.
//!
//! The mappings live in the controls' metadata (`compliance` in `<ID>.json`). FedRAMP Moderate has
//! no column of its own there: its baseline is a selection of NIST SP 800-53 r5 controls, so a
//! control counts for FedRAMP Moderate through those of its NIST controls that the baseline keeps.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ControlResult;
use crate::controls::{ControlMeta, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Framework {
    Cis,
    Nist,
    Pci,
    Soc2,
    Hipaa,
    Iso27001,
    FedRamp,
}

/// The NIST SP 800-53 r5 controls of the families our catalog maps to that the FedRAMP Rev. 5
/// Moderate baseline selects (AU-9(2), AU-9(3) and AU-10 are High only, so they are absent).
const FEDRAMP_MODERATE: &[&str] = &[
    "AC-2", "AC-2(1)", "AC-2(2)", "AC-2(3)", "AC-2(4)", "AC-2(5)", "AC-2(7)", "AC-2(9)",
    "AC-2(12)", "AC-2(13)", "AC-3", "AC-4", "AC-5", "AC-6", "AC-6(1)", "AC-6(2)", "AC-6(5)",
    "AC-6(7)", "AC-6(9)", "AC-6(10)", "AC-7", "AC-17", "AU-2", "AU-3", "AU-3(1)", "AU-4", "AU-5",
    "AU-6", "AU-6(1)", "AU-6(3)", "AU-7", "AU-7(1)", "AU-8", "AU-9", "AU-9(4)", "AU-11", "AU-12",
    "CA-2", "CA-2(1)", "CA-7", "CA-7(1)", "CA-7(4)", "CM-2", "CM-3", "CM-3(2)", "CM-3(4)", "CM-5",
    "CM-6", "CM-7", "CM-8", "CP-9", "CP-9(1)", "CP-9(8)", "IA-2", "IA-2(1)", "IA-2(2)", "IA-5",
    "IR-4", "IR-5", "IR-6", "RA-5", "SC-7", "SC-8", "SC-12", "SC-13", "SC-28", "SC-28(1)", "SI-2",
    "SI-3", "SI-4", "SI-4(2)", "SI-4(4)", "SI-4(5)", "SI-5", "SI-7", "SI-7(1)", "SI-7(7)", "SI-12",
];

impl Framework {
    pub const ALL: [Framework; 7] = [
        Framework::Cis,
        Framework::Nist,
        Framework::Pci,
        Framework::Soc2,
        Framework::Hipaa,
        Framework::Iso27001,
        Framework::FedRamp,
    ];

    /// The id used on the command line and in the report.
    pub fn id(self) -> &'static str {
        match self {
            Framework::Cis => "cis",
            Framework::Nist => "nist",
            Framework::Pci => "pci",
            Framework::Soc2 => "soc2",
            Framework::Hipaa => "hipaa",
            Framework::Iso27001 => "iso27001",
            Framework::FedRamp => "fedramp",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Framework::Cis => "CIS Amazon Web Services Foundations Benchmark v3.0.0",
            Framework::Nist => "NIST SP 800-53 Rev. 5",
            Framework::Pci => "PCI DSS v4.0",
            Framework::Soc2 => "SOC 2 (2017 Trust Services Criteria)",
            Framework::Hipaa => "HIPAA Security Rule (45 CFR 164)",
            Framework::Iso27001 => "ISO/IEC 27001:2022 Annex A",
            Framework::FedRamp => "FedRAMP Rev. 5 Moderate baseline",
        }
    }

    /// `cis`, ..., or `all`.
    pub fn parse_list(text: &str) -> Result<Vec<Framework>, String> {
        let mut out = BTreeSet::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                out.extend(Framework::ALL);
                continue;
            }
            let found = Framework::ALL.into_iter().find(|f| f.id() == part);
            out.insert(found.ok_or_else(|| {
                format!("unknown framework {part:?}: use cis, nist, pci, soc2, hipaa, iso27001, fedramp or all")
            })?);
        }
        Ok(out.into_iter().collect())
    }

    /// The requirement ids a control's metadata maps it to, in this framework.
    fn requirements(self, meta: &ControlMeta) -> Vec<String> {
        let column = |name: &str| meta.compliance.get(name).cloned().unwrap_or_default();
        match self {
            Framework::Cis => column("cis_aws"),
            Framework::Nist => column("nist_800_53"),
            Framework::Pci => column("pci_dss"),
            Framework::Soc2 => column("soc2"),
            Framework::Hipaa => column("hipaa"),
            Framework::Iso27001 => column("iso_27001"),
            Framework::FedRamp => column("nist_800_53")
                .into_iter()
                .filter(|c| FEDRAMP_MODERATE.contains(&c.as_str()))
                .collect(),
        }
    }
}

/// Requirement ids by framework id, for every framework the control maps to.
pub fn requirements_of(meta: &ControlMeta) -> BTreeMap<String, Vec<String>> {
    Framework::ALL
        .into_iter()
        .map(|f| (f.id().to_string(), f.requirements(meta)))
        .filter(|(_, r)| !r.is_empty())
        .collect()
}

/// One framework's page of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkSummary {
    pub id: String,
    pub name: String,
    /// Requirements at least one control speaks to.
    pub requirements_touched: usize,
    pub requirements_failing: usize,
    pub controls: usize,
    pub controls_failing: usize,
    pub controls_inconclusive: usize,
    /// Failing controls by severity.
    pub failing_by_severity: BTreeMap<String, usize>,
    pub requirements: Vec<RequirementStatus>,
    /// Inconclusive controls and the facts they lacked.
    pub inconclusive: Vec<Inconclusive>,
}

/// A requirement's status: failing if any of its controls fails, else inconclusive if any is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementStatus {
    pub id: String,
    pub status: Status,
    pub controls: Vec<String>,
    pub failing_controls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inconclusive {
    pub control_id: String,
    pub lacks: Vec<String>,
}

pub fn summarize(frameworks: &[Framework], controls: &[ControlResult]) -> Vec<FrameworkSummary> {
    frameworks
        .iter()
        .map(|&framework| {
            let mapped: Vec<(&ControlResult, &Vec<String>)> = controls
                .iter()
                .filter_map(|c| c.requirements.get(framework.id()).map(|r| (c, r)))
                .collect();
            let mut by_requirement: BTreeMap<&str, Vec<&ControlResult>> = BTreeMap::new();
            for (c, reqs) in &mapped {
                for r in reqs.iter() {
                    by_requirement.entry(r.as_str()).or_default().push(c);
                }
            }
            let mut requirements: Vec<RequirementStatus> = by_requirement
                .into_iter()
                .map(|(id, cs)| RequirementStatus {
                    id: id.to_string(),
                    status: cs.iter().map(|c| c.status).min().unwrap_or(Status::Pass),
                    controls: cs.iter().map(|c| c.id.clone()).collect(),
                    failing_controls: cs
                        .iter()
                        .filter(|c| c.status == Status::Fail)
                        .map(|c| c.id.clone())
                        .collect(),
                })
                .collect();
            requirements.sort_by_key(|r| natural_key(&r.id));
            let mut failing_by_severity = BTreeMap::new();
            for (c, _) in mapped.iter().filter(|(c, _)| c.status == Status::Fail) {
                *failing_by_severity
                    .entry(c.severity.as_str().to_string())
                    .or_insert(0) += 1;
            }
            let inconclusive: Vec<Inconclusive> = mapped
                .iter()
                .filter(|(c, _)| c.status == Status::Inconclusive)
                .map(|(c, _)| Inconclusive {
                    control_id: c.id.clone(),
                    lacks: c.lacks.clone(),
                })
                .collect();
            FrameworkSummary {
                id: framework.id().to_string(),
                name: framework.name().to_string(),
                requirements_touched: requirements.len(),
                requirements_failing: requirements
                    .iter()
                    .filter(|r| r.status == Status::Fail)
                    .count(),
                controls: mapped.len(),
                controls_failing: failing_by_severity.values().sum(),
                controls_inconclusive: inconclusive.len(),
                failing_by_severity,
                requirements,
                inconclusive,
            }
        })
        .collect()
}

/// Sorts `3.10` after `3.9` and `AU-12` after `AU-2`: digit runs compare as numbers.
fn natural_key(id: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for ch in id.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            if !digits.is_empty() {
                out.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(ch);
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_framework_lists() {
        assert_eq!(Framework::parse_list("all").unwrap().len(), 7);
        assert_eq!(
            Framework::parse_list("pci,cis").unwrap(),
            vec![Framework::Cis, Framework::Pci]
        );
        assert!(Framework::parse_list("sox").unwrap_err().contains("sox"));
    }

    #[test]
    fn fedramp_keeps_the_moderate_baseline_only() {
        let meta: ControlMeta = serde_json::from_value(serde_json::json!({
            "id": "CTL.X.001", "title": "t", "severity": "high", "kind": "state",
            "domain": "d", "remediation": "r",
            "compliance": {"nist_800_53": ["AU-9", "AU-9(2)", "AU-6(3)"]}
        }))
        .unwrap();
        let reqs = requirements_of(&meta);
        assert_eq!(reqs["fedramp"], vec!["AU-9", "AU-6(3)"]);
        assert_eq!(reqs["nist"].len(), 3);
        assert!(!reqs.contains_key("cis"));
    }

    #[test]
    fn requirement_ids_sort_naturally() {
        let mut ids = vec!["3.10", "3.9", "AU-12", "AU-2", "AU-6(3)", "AU-6"];
        ids.sort_by_key(|id| natural_key(id));
        assert_eq!(ids, vec!["3.9", "3.10", "AU-2", "AU-6", "AU-6(3)", "AU-12"]);
    }
}
