//! CSV: one finding per row, for spreadsheets and ticket imports.

use super::super::ComplianceReport;

const HEADER: &[&str] = &[
    "period",
    "control_id",
    "control_status",
    "status",
    "severity",
    "title",
    "resource",
    "account_id",
    "region",
    "window_start",
    "window_end",
    "requirements",
    "remediation",
    "evidence",
];

/// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn render(report: &ComplianceReport) -> String {
    let mut out = HEADER.join(",");
    out.push_str("\r\n");
    for control in &report.controls {
        // `cis:3.1 3.2; nist:AU-2`: every framework's requirements in one cell.
        let requirements = control
            .requirements
            .iter()
            .map(|(framework, ids)| format!("{framework}:{}", ids.join(" ")))
            .collect::<Vec<_>>()
            .join("; ");
        for f in &control.findings {
            let row = [
                report.period.label.as_str(),
                &control.id,
                control.status.as_str(),
                f.status.as_str(),
                control.severity.as_str(),
                &control.title,
                &f.resource,
                f.account_id.as_deref().unwrap_or(""),
                f.region.as_deref().unwrap_or(""),
                f.window_start.as_deref().unwrap_or(""),
                f.window_end.as_deref().unwrap_or(""),
                &requirements,
                &control.remediation,
                &f.evidence.to_string(),
            ];
            out.push_str(&row.map(field).join(","));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn quotes_what_needs_quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }
}
