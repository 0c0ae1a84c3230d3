//! OCSF Compliance Finding objects: being written.

use super::super::ComplianceReport;

pub fn findings(_report: &ComplianceReport) -> Vec<serde_json::Value> {
    Vec::new()
}
