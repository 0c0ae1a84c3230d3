//! Markdown: the report as a ticket or wiki page. Summary tables first, then every failing and
//! inconclusive control with its evidence in a collapsed block; passing controls in one table.

use std::fmt::Write;

use serde_json::Value;

use super::super::{ComplianceReport, ControlResult};
use crate::controls::Status;

/// Evidence longer than this is cut in the page (the JSON report has all of it).
const EVIDENCE_CHARS: usize = 4000;

/// Text for a table cell: pipes escaped, line breaks flattened.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn opt(text: &Option<String>) -> &str {
    text.as_deref().unwrap_or("")
}

pub fn render(report: &ComplianceReport) -> String {
    let mut md = String::new();
    let s = &report.summary;
    let _ = writeln!(
        md,
        "# CloudTrail compliance report: {}\n",
        report.period.label
    );
    let _ = writeln!(
        md,
        "Period {} to {} (UTC, end exclusive) · archive `{}` · {} {}\n",
        super::super::integrity::time(report.period.from),
        super::super::integrity::time(report.period.to),
        report.scope.archive,
        report.tool.name,
        report.tool.version
    );
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(
        md,
        "| Controls | {} failing, {} inconclusive, {} passing (of {}) |",
        s.failing, s.inconclusive, s.passing, s.controls
    );
    let by_severity: Vec<String> = s
        .failing_by_severity
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let _ = writeln!(md, "| Failing by severity | {} |", by_severity.join(", "));
    let i = &report.integrity;
    let _ = writeln!(
        md,
        "| Trail integrity | {}: {}/{} digest files valid, {}/{} log files valid, {} gaps ({} critical); signatures {} |",
        if i.valid { "valid" } else { "**NOT valid**" },
        i.digests.valid,
        i.digests.total,
        i.log_files.valid,
        i.log_files.total,
        i.gaps.len(),
        s.critical_gaps,
        if i.signatures_checked {
            "checked"
        } else {
            "not checked"
        }
    );
    let _ = writeln!(
        md,
        "| Events | {} ({} failed calls) |",
        s.events, report.activity.totals.errors
    );
    let _ = writeln!(md, "| Unreadable objects | {} |", s.read_errors);
    let _ = writeln!(
        md,
        "| Report SHA-256 | `{}` |\n",
        opt(&report.manifest.report_sha256)
    );

    changes(&mut md, report);
    frameworks(&mut md, report);
    controls(&mut md, report);
    integrity(&mut md, report);
    activity(&mut md, report);
    if !report.read_errors.is_empty() {
        let _ = writeln!(md, "## Unreadable objects\n\n| key | reason |\n|---|---|");
        for e in &report.read_errors {
            let _ = writeln!(md, "| `{}` | {} |", cell(&e.key), cell(&e.reason));
        }
        md.push('\n');
    }
    let m = &report.manifest;
    let _ = writeln!(
        md,
        "## Evidence manifest\n\n{} log files and {} digest files (key, size, SHA-256 each in the JSON report); controls SHA-256 `{}` ({} controls).\n",
        m.log_files.len(),
        m.digests.len(),
        m.controls_sha256,
        m.controls
    );
    for snap in &m.snapshots {
        let _ = writeln!(
            md,
            "- snapshot `{}` (account {}, captured {}): SHA-256 `{}`",
            snap.file,
            snap.account_id,
            snap.captured_at.as_deref().unwrap_or("unknown"),
            snap.sha256
        );
    }
    md
}

fn changes(md: &mut String, report: &ComplianceReport) {
    let Some(c) = &report.changes else { return };
    let _ = writeln!(
        md,
        "## Since {}\n\n{} new, {} resolved, {} unchanged failing findings.\n",
        c.baseline_period,
        c.new.len(),
        c.resolved.len(),
        c.unchanged.len()
    );
    for (label, list) in [("New", &c.new), ("Resolved", &c.resolved)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            md,
            "**{label}**\n\n| control | severity | resource | account | region |\n|---|---|---|---|---|"
        );
        for f in list {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                f.control_id,
                f.severity.as_str(),
                cell(&f.resource),
                opt(&f.account_id),
                opt(&f.region)
            );
        }
        md.push('\n');
    }
}

fn frameworks(md: &mut String, report: &ComplianceReport) {
    let _ = writeln!(
        md,
        "## Frameworks\n\n| framework | requirements touched | failing | controls failing | inconclusive |\n|---|---|---|---|---|"
    );
    for f in &report.frameworks {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            f.name,
            f.requirements_touched,
            f.requirements_failing,
            f.controls_failing,
            f.controls_inconclusive
        );
    }
    md.push('\n');
    for f in &report.frameworks {
        let failing: Vec<String> = f
            .requirements
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| format!("{} ({})", r.id, r.failing_controls.join(", ")))
            .collect();
        if !failing.is_empty() {
            let _ = writeln!(md, "- **{}** failing: {}", f.name, failing.join("; "));
        }
    }
    md.push('\n');
}

fn controls(md: &mut String, report: &ComplianceReport) {
    let _ = writeln!(md, "## Controls\n");
    for c in report.controls.iter().filter(|c| c.status != Status::Pass) {
        control(md, c);
    }
    let passing: Vec<&ControlResult> = report
        .controls
        .iter()
        .filter(|c| c.status == Status::Pass)
        .collect();
    if !passing.is_empty() {
        let _ = writeln!(
            md,
            "### Passing\n\n| control | severity | title |\n|---|---|---|"
        );
        for c in passing {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                c.id,
                c.severity.as_str(),
                cell(&c.title)
            );
        }
        md.push('\n');
    }
}

fn control(md: &mut String, c: &ControlResult) {
    let _ = write!(
        md,
        "### {} {}: {}\n\n{} · {}",
        if c.status == Status::Fail {
            "❌"
        } else {
            "❔"
        },
        c.id,
        c.title,
        c.status.as_str().to_uppercase(),
        c.severity.as_str()
    );
    let requirements: Vec<String> = c
        .requirements
        .iter()
        .map(|(framework, ids)| format!("{framework} {}", ids.join(", ")))
        .collect();
    let _ = writeln!(md, " · {}\n", requirements.join(" · "));
    if !c.lacks.is_empty() {
        let _ = writeln!(md, "Lacks: {}\n", c.lacks.join("; "));
    }
    let _ = writeln!(md, "Remediation: {}\n", c.remediation);
    let shown: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.status != Status::Pass)
        .collect();
    let _ = writeln!(
        md,
        "| status | resource | account | region | window |\n|---|---|---|---|---|"
    );
    for f in &shown {
        let window = match (&f.window_start, &f.window_end) {
            (Some(a), Some(b)) => format!("{a} to {b}"),
            _ => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            f.status.as_str(),
            cell(&f.resource),
            opt(&f.account_id),
            opt(&f.region),
            window
        );
    }
    for f in &shown {
        let _ = writeln!(
            md,
            "\n<details><summary>evidence: {}</summary>\n\n```json\n{}\n```\n</details>",
            cell(&f.resource),
            evidence_text(&f.evidence).replace("```", "` ` `")
        );
    }
    md.push('\n');
}

fn evidence_text(evidence: &Value) -> String {
    let text = serde_json::to_string_pretty(evidence).unwrap_or_default();
    if text.len() <= EVIDENCE_CHARS {
        return text;
    }
    let mut cut = EVIDENCE_CHARS;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}\n... ({} more characters in the JSON report)",
        &text[..cut],
        text.len() - cut
    )
}

fn integrity(md: &mut String, report: &ComplianceReport) {
    let i = &report.integrity;
    let _ = writeln!(md, "## Trail integrity\n");
    let _ = writeln!(
        md,
        "{}/{} digest files valid, {}/{} log files valid.\n",
        i.digests.valid, i.digests.total, i.log_files.valid, i.log_files.total
    );
    if !i.problems.is_empty() {
        let _ = writeln!(md, "| type | status | key | detail |\n|---|---|---|---|");
        for p in &i.problems {
            let _ = writeln!(
                md,
                "| {} | {} | `{}` | {} |",
                p.kind,
                p.status,
                cell(&p.key),
                cell(&p.detail)
            );
        }
        md.push('\n');
    }
    if !i.gaps.is_empty() {
        let _ = writeln!(
            md,
            "| account | region | start | end | hours | class |\n|---|---|---|---|---|---|"
        );
        for g in &i.gaps {
            let class = if g.critical {
                format!("**{}**", g.class)
            } else {
                g.class.clone()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                g.account_id, g.region, g.start, g.end, g.hours, class
            );
        }
        md.push('\n');
    }
    for s in &i.stops {
        let _ = writeln!(
            md,
            "- {} of {} at {} by {} from {}; restarted {}",
            s.event,
            s.trail.as_deref().unwrap_or("a trail"),
            s.stopped_at,
            s.stopped_by.as_deref().unwrap_or("unknown"),
            s.source_ip.as_deref().unwrap_or("unknown"),
            s.restarted_at.as_deref().unwrap_or("never")
        );
    }
    md.push('\n');
}

fn activity(md: &mut String, report: &ComplianceReport) {
    let a = &report.activity;
    let _ = writeln!(
        md,
        "## Activity\n\n{} events, {} failed, {} accounts, {} regions, {} principals.\n",
        a.totals.events, a.totals.errors, a.totals.accounts, a.totals.regions, a.totals.principals
    );
    let _ = writeln!(
        md,
        "| principal | type | events | failed |\n|---|---|---|---|"
    );
    for p in &a.top_principals {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&p.principal),
            p.principal_type,
            p.events,
            p.errors
        );
    }
    let _ = writeln!(
        md,
        "\n| account | console logins with MFA | without MFA | failed |\n|---|---|---|---|"
    );
    for l in &a.console_logins {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            l.account_id, l.with_mfa, l.without_mfa, l.failed
        );
    }
    if !a.root_usage.is_empty() {
        let _ = writeln!(
            md,
            "\n| root usage: account | day | event | calls |\n|---|---|---|---|"
        );
        for r in &a.root_usage {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                r.account_id, r.day, r.eventname, r.events
            );
        }
    }
    md.push('\n');
}
