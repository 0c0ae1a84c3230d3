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

/// A table: a header row, its rule, then one row per item (each cell through [`cell`]).
fn table(md: &mut String, headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let _ = writeln!(
        md,
        "| {} |\n|{}",
        headers.join(" | "),
        "---|".repeat(headers.len())
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
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
    if s.unfetched > 0 {
        let _ = writeln!(
            md,
            "| Of which could not be fetched (report is partial) | {} |",
            s.unfetched
        );
    }
    let _ = writeln!(
        md,
        "| Report SHA-256 | `{}` |\n",
        opt(&report.manifest.report_sha256)
    );

    changes(&mut md, report);
    frameworks(&mut md, report);
    controls(&mut md, report);
    integrity(&mut md, report);
    detections(&mut md, report);
    activity(&mut md, report);
    if !report.read_errors.is_empty() {
        let _ = writeln!(md, "## Unreadable objects\n");
        let rows = report
            .read_errors
            .iter()
            .map(|e| vec![format!("`{}`", e.key), e.class.clone(), e.reason.clone()]);
        table(&mut md, &["key", "class", "reason"], rows);
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
    for f in &m.enrichment {
        let _ = writeln!(
            md,
            "- enrichment {} `{}` ({}, built {}): SHA-256 `{}`",
            f.role,
            f.path,
            f.about,
            f.built.as_deref().unwrap_or("unknown"),
            f.sha256
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
        let _ = writeln!(md, "**{label}**\n");
        let rows = list.iter().map(|f| {
            vec![
                f.control_id.clone(),
                f.severity.as_str().to_string(),
                f.resource.clone(),
                opt(&f.account_id).to_string(),
                opt(&f.region).to_string(),
            ]
        });
        table(
            md,
            &["control", "severity", "resource", "account", "region"],
            rows,
        );
    }
}

fn frameworks(md: &mut String, report: &ComplianceReport) {
    let _ = writeln!(md, "## Frameworks\n");
    let rows = report.frameworks.iter().map(|f| {
        vec![
            f.name.clone(),
            f.requirements_touched.to_string(),
            f.requirements_failing.to_string(),
            f.controls_failing.to_string(),
            f.controls_inconclusive.to_string(),
        ]
    });
    let headers = [
        "framework",
        "requirements touched",
        "failing",
        "controls failing",
        "inconclusive",
    ];
    table(md, &headers, rows);
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
        let _ = writeln!(md, "### Passing\n");
        let rows = passing.iter().map(|c| {
            vec![
                c.id.clone(),
                c.severity.as_str().to_string(),
                c.title.clone(),
            ]
        });
        table(md, &["control", "severity", "title"], rows);
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
    let rows = shown.iter().map(|f| {
        let window = match (&f.window_start, &f.window_end) {
            (Some(a), Some(b)) => format!("{a} to {b}"),
            _ => String::new(),
        };
        vec![
            f.status.as_str().to_string(),
            f.resource.clone(),
            opt(&f.account_id).to_string(),
            opt(&f.region).to_string(),
            window,
        ]
    });
    table(
        md,
        &["status", "resource", "account", "region", "window"],
        rows,
    );
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

fn detections(md: &mut String, report: &ComplianceReport) {
    let Some(d) = &report.detections else {
        return;
    };
    let _ = writeln!(
        md,
        "## Detections\n\n{} ({} run): {} detections.\n",
        d.rules, d.rules_run, d.detections
    );
    if !d.by_tactic.is_empty() {
        let tactics: Vec<String> = d
            .by_tactic
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        let _ = writeln!(md, "By ATT&CK tactic: {}.\n", tactics.join(", "));
    }
    if !d.by_rule.is_empty() {
        let rows = d.by_rule.iter().map(|r| {
            vec![
                r.level.clone(),
                r.title.clone(),
                format!("`{}`", r.rule_id),
                r.author.clone().unwrap_or_default(),
                r.detections.to_string(),
                opt(&r.first_seen).to_string(),
                opt(&r.last_seen).to_string(),
                r.principals.to_string(),
                r.accounts.join(", "),
            ]
        });
        table(
            md,
            &[
                "level",
                "rule",
                "id",
                "author",
                "detections",
                "first",
                "last",
                "principals",
                "accounts",
            ],
            rows,
        );
        let every = crate::report::detections::every_detection_command(
            &report.scope.archive,
            &report.period,
        );
        let _ = writeln!(
            md,
            "Each rule's first detections, with the event and log file to open (every detection: \
             `{every}`):\n"
        );
        let rows = d.by_rule.iter().flat_map(|r| {
            r.evidence.iter().map(move |h| {
                vec![
                    r.title.clone(),
                    opt(&h.eventtime).to_string(),
                    opt(&h.principal).to_string(),
                    opt(&h.eventname).to_string(),
                    format!("{} / {}", opt(&h.account_id), opt(&h.region)),
                    format!("`{}`", opt(&h.eventid)),
                    format!("`{}`", opt(&h.log_file)),
                    h.event_count.to_string(),
                ]
            })
        });
        table(
            md,
            &[
                "rule",
                "time",
                "principal",
                "event",
                "account / region",
                "event id",
                "log file",
                "events",
            ],
            rows,
        );
    }
    for n in &d.not_run {
        let _ = writeln!(
            md,
            "- not run ({}): {}: {}",
            n.class,
            cell(&n.rule),
            cell(&n.reason)
        );
    }
    if !d.not_run.is_empty() {
        md.push('\n');
    }
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
        let rows = i.problems.iter().map(|p| {
            vec![
                p.kind.clone(),
                p.status.clone(),
                format!("`{}`", p.key),
                p.detail.clone(),
            ]
        });
        table(md, &["type", "status", "key", "detail"], rows);
    }
    if !i.gaps.is_empty() {
        let rows = i.gaps.iter().map(|g| {
            let class = if g.critical {
                format!("**{}**", g.class)
            } else {
                g.class.clone()
            };
            vec![
                g.account_id.clone(),
                g.region.clone(),
                g.start.clone(),
                g.end.clone(),
                g.hours.to_string(),
                class,
            ]
        });
        table(
            md,
            &["account", "region", "start", "end", "hours", "class"],
            rows,
        );
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
    let placed = a.top_principals.iter().any(|p| p.places.is_some());
    let rows = a.top_principals.iter().map(|p| {
        let mut row = vec![
            p.principal.clone(),
            p.principal_type.clone(),
            p.events.to_string(),
            p.errors.to_string(),
        ];
        if let Some(places) = &p.places {
            let named: Vec<String> = places.iter().map(|pl| pl.place.describe()).collect();
            row.push(named.join(" / "));
        }
        row
    });
    let headers: &[&str] = match placed {
        true => &["principal", "type", "events", "failed", "from"],
        false => &["principal", "type", "events", "failed"],
    };
    table(md, headers, rows);
    let rows = a.console_logins.iter().map(|l| {
        vec![
            l.account_id.clone(),
            l.with_mfa.to_string(),
            l.without_mfa.to_string(),
            l.failed.to_string(),
        ]
    });
    let headers = [
        "account",
        "console logins with MFA",
        "without MFA",
        "failed",
    ];
    table(md, &headers, rows);
    if let Some(places) = &a.console_login_places {
        let rows = places.iter().map(|p| {
            vec![
                p.account_id.clone(),
                p.place.describe(),
                p.succeeded.to_string(),
                p.failed.to_string(),
                p.principals.to_string(),
            ]
        });
        let headers = [
            "console logins: account",
            "place",
            "succeeded",
            "failed",
            "principals",
        ];
        table(md, &headers, rows);
    }
    if !a.root_usage.is_empty() {
        let rows = a.root_usage.iter().map(|r| {
            vec![
                r.account_id.clone(),
                r.day.clone(),
                r.eventname.clone(),
                r.events.to_string(),
            ]
        });
        table(md, &["root usage: account", "day", "event", "calls"], rows);
    }
}
