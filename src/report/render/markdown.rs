//! Markdown: being written.

use super::super::ComplianceReport;

pub fn render(report: &ComplianceReport) -> String {
    format!("# {}\n", report.period.label)
}
