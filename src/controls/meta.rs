//! Control metadata: the `<ID>.json` file beside each `<ID>.sql`.
//!
//! ```json
//! {
//!   "id": "CTL.CLOUDTRAIL.VALIDATION.001",
//!   "title": "CloudTrail log file validation is enabled",
//!   "severity": "high",
//!   "kind": "state",
//!   "domain": "integrity",
//!   "compliance": {"cis_aws": ["3.2"], "nist_800_53": ["AU-9"]},
//!   "remediation": "aws cloudtrail update-trail --name NAME --enable-log-file-validation",
//!   "parameters": {"bulk_delete_threshold": {"type": "integer", "default": 5,
//!                  "description": "destructive calls that make a burst"}}
//! }
//! ```
//! Unknown keys are refused (a typo must not silently drop a mapping).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Compliance frameworks a mapping may name.
pub const FRAMEWORKS: &[&str] = &[
    "cis_aws",
    "nist_800_53",
    "pci_dss",
    "soc2",
    "hipaa",
    "iso_27001",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// What a control reads: the snapshot (state), the archive (event), both, or other findings (meta).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    State,
    Event,
    Both,
    Meta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A whole number: `5`.
    Integer,
    /// `10m`, `24h`, `30d` (or seconds as a number): substituted as `INTERVAL '600 seconds'`.
    Duration,
    /// Text: substituted as a quoted SQL string.
    String,
    Boolean,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub ty: ParamType,
    #[serde(default)]
    pub default: Option<Value>,
    pub description: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControlMeta {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub kind: Kind,
    pub domain: String,
    /// Framework → requirement ids (see [`FRAMEWORKS`]).
    #[serde(default)]
    pub compliance: BTreeMap<String, Vec<String>>,
    pub remediation: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, ParamSpec>,
    /// What the control checks and how, in a sentence or two.
    #[serde(default)]
    pub description: Option<String>,
    /// Deviations from the upstream catalog and parts not evaluated yet, said plainly.
    #[serde(default)]
    pub notes: Option<String>,
}

impl ControlMeta {
    /// Problems a reviewer must fix; empty when the metadata is sound.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.id.starts_with("CTL.") || self.id.contains(char::is_whitespace) {
            out.push(format!(
                "id {:?} must look like CTL.CLOUDTRAIL.NAME.001",
                self.id
            ));
        }
        for (field, value) in [
            ("title", &self.title),
            ("domain", &self.domain),
            ("remediation", &self.remediation),
        ] {
            if value.trim().is_empty() {
                out.push(format!("{field} is empty"));
            }
        }
        for framework in self.compliance.keys() {
            if !FRAMEWORKS.contains(&framework.as_str()) {
                out.push(format!(
                    "compliance framework {framework:?} is not one of {}",
                    FRAMEWORKS.join(", ")
                ));
            }
        }
        for (name, spec) in &self.parameters {
            if !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                out.push(format!("parameter {name:?}: use lower_snake_case"));
            }
            if let Some(default) = &spec.default
                && let Err(e) = super::params::literal(name, spec.ty, default)
            {
                out.push(format!("default of {e}"));
            }
        }
        out
    }
}
