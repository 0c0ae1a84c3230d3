//! The integrity section: verification totals, the delivery timeline, gaps, stops, problems.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{code, esc, nowrap, or_dash, section_start, table, when};
use crate::report::ComplianceReport;
use crate::report::integrity::{Counts, GapEntry, IntegritySection};
use crate::report::render::svg::{self, count};

/// Characters of a gap's evidence shown in its row (the JSON report has it all).
const GAP_EVIDENCE_CHARS: usize = 180;

// ---- 5. integrity ----

fn counts_cell(c: &Counts) -> String {
    let by: Vec<String> = c
        .by_status
        .iter()
        .map(|(s, n)| format!("{} {}", esc(s), count(*n as u64)))
        .collect();
    by.join(", ")
}

pub(super) fn integrity_section(report: &ComplianceReport) -> String {
    let i: &IntegritySection = &report.integrity;
    let mut out = section_start("integrity", "Integrity of the trail", "big");
    let _ = writeln!(
        out,
        "<p class=\"verdict {}\">The trail is <strong>{}</strong>: {}.</p>",
        if i.valid { "ok" } else { "bad" },
        if i.valid { "valid" } else { "NOT valid" },
        if i.valid {
            "every digest and log file verified and no gap is evidence of tampering"
        } else {
            "see the problems and critical gaps below"
        }
    );
    let rows = vec![
        (
            "",
            vec![
                "Digest files".into(),
                count(i.digests.valid as u64),
                count(i.digests.total as u64),
                counts_cell(&i.digests),
            ],
        ),
        (
            "",
            vec![
                "Log files".into(),
                count(i.log_files.valid as u64),
                count(i.log_files.total as u64),
                counts_cell(&i.log_files),
            ],
        ),
    ];
    out.push_str(&table(&["Objects", "Valid", "Total", "By status"], &rows));
    let _ = writeln!(
        out,
        "<p class=\"muted\">Digest signatures {}. Gaps are silences longer than {} minutes in a stream's delivery.</p>",
        if i.signatures_checked {
            "checked"
        } else {
            "not checked (no public keys given)"
        },
        report.scope.gap_threshold_minutes
    );
    out.push_str("<h3>Delivery timeline</h3>\n<figure id=\"timeline\">");
    let streams: Vec<svg::Stream> = i
        .timelines
        .iter()
        .filter_map(|t| {
            Some(svg::Stream {
                name: format!("{} {}", t.account_id, t.region),
                start: DateTime::parse_from_rfc3339(&t.start)
                    .ok()?
                    .with_timezone(&Utc),
                step_secs: t.step_secs.max(1),
                cells: &t.cells,
            })
        })
        .collect();
    if streams.is_empty() {
        out.push_str("<p class=\"muted\">No delivery streams in the period.</p>");
    } else {
        out.push_str(&svg::timeline(
            report.period.from,
            report.period.to,
            &streams,
        ));
    }
    out.push_str("</figure>\n");
    out.push_str(&gaps_table(i));
    out.push_str(&stops_table(i));
    let _ = writeln!(out, "<h3>Problems ({})</h3>", i.problems.len());
    if i.problems.is_empty() {
        out.push_str("<p class=\"muted\">None: every digest and log file verified.</p>\n");
    } else {
        let rows: Vec<_> = i
            .problems
            .iter()
            .map(|p| {
                (
                    "crit",
                    vec![
                        esc(&p.kind),
                        code(&p.key),
                        esc(&p.account_id),
                        esc(&p.region),
                        esc(&p.status),
                        esc(&p.detail),
                    ],
                )
            })
            .collect();
        out.push_str(&table(
            &["Type", "Key", "Account", "Region", "Status", "Detail"],
            &rows,
        ));
    }
    out.push_str("</section>\n");
    out
}

fn gaps_table(i: &IntegritySection) -> String {
    let critical = i.gaps.iter().filter(|g| g.critical).count();
    let mut out = format!("<h3>Gaps ({}, {critical} critical)</h3>\n", i.gaps.len());
    if i.gaps.is_empty() {
        return out + "<p class=\"muted\">None.</p>\n";
    }
    let mut by_class: BTreeMap<&str, usize> = BTreeMap::new();
    for g in &i.gaps {
        *by_class.entry(g.class.as_str()).or_insert(0) += 1;
    }
    let classes: Vec<String> = by_class
        .iter()
        .map(|(class, n)| format!("{} {}", gap_class(class), n))
        .collect();
    let _ = writeln!(out, "<p>By class: {}.</p>", classes.join(", "));
    // Quiet periods that digests attest are normal; they are listed apart, folded.
    let (quiet, other): (Vec<&GapEntry>, Vec<&GapEntry>) =
        i.gaps.iter().partition(|g| g.class == "attested_quiet");
    if !other.is_empty() {
        out.push_str(&gap_rows(&other));
    }
    if !quiet.is_empty() {
        let _ = write!(
            out,
            "<details class=\"quiet\"><summary>{} quiet period(s) attested by digests (no log \
             file was due)</summary>\n{}</details>\n",
            quiet.len(),
            gap_rows(&quiet)
        );
    }
    out
}

fn gap_class(class: &str) -> String {
    format!("<span class=\"gap gap-{0}\">{0}</span>", esc(class))
}

fn gap_rows(gaps: &[&GapEntry]) -> String {
    let rows: Vec<_> = gaps
        .iter()
        .map(|g| {
            let evidence = serde_json::to_string(&g.evidence).unwrap_or_default();
            let evidence: String = match evidence.chars().count() > GAP_EVIDENCE_CHARS {
                true => evidence
                    .chars()
                    .take(GAP_EVIDENCE_CHARS)
                    .chain(['\u{2026}'])
                    .collect(),
                false => evidence,
            };
            let cells = vec![
                nowrap(&esc(&g.account_id)),
                nowrap(&esc(&g.region)),
                nowrap(&when(&g.start)),
                nowrap(&when(&g.end)),
                format!("{:.1}", g.hours),
                gap_class(&g.class),
                format!("<span class=\"small mono\">{}</span>", esc(&evidence)),
            ];
            (if g.critical { "crit" } else { "" }, cells)
        })
        .collect();
    let headers = [
        "Account",
        "Region",
        "Start (UTC)",
        "End",
        "Hours",
        "Class",
        "Evidence",
    ];
    table(&headers, &rows)
}

fn stops_table(i: &IntegritySection) -> String {
    let mut out = format!("<h3>Stop and restart episodes ({})</h3>\n", i.stops.len());
    if i.stops.is_empty() {
        return out + "<p class=\"muted\">No StopLogging or DeleteTrail in the period.</p>\n";
    }
    let rows: Vec<_> = i
        .stops
        .iter()
        .map(|s| {
            let restart = match &s.restarted_at {
                Some(at) => format!(
                    "{} by {}",
                    nowrap(&when(at)),
                    or_dash(s.restarted_by.as_deref())
                ),
                None => "<strong class=\"bad\">not restarted</strong>".into(),
            };
            (
                if s.restarted_at.is_none() { "crit" } else { "" },
                vec![
                    or_dash(s.trail.as_deref()),
                    esc(&s.accounts.join(", ")),
                    esc(&s.event),
                    nowrap(&when(&s.stopped_at)),
                    or_dash(s.stopped_by.as_deref()),
                    or_dash(s.source_ip.as_deref()),
                    restart,
                ],
            )
        })
        .collect();
    out.push_str(&table(
        &[
            "Trail",
            "Accounts",
            "Event",
            "Stopped at",
            "By",
            "Source IP",
            "Restarted",
        ],
        &rows,
    ));
    out
}
