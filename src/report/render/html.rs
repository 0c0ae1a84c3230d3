//! HTML: being written (see src/report/mod.rs for the model).

use super::super::ComplianceReport;

pub fn render(report: &ComplianceReport) -> String {
    format!("<!doctype html><title>{}</title>", report.period.label)
}
