//! The detections section: hits of the Sigma rules by level, tactic and rule, each rule's first
//! hits with their evidence (event id and log file), and the rules that did not run, with why.

use std::fmt::Write;

use super::{code, esc, nowrap, or_dash, section_start, table, when};
use crate::detect::rule::tactics;
use crate::report::detections::{DetectionsSection, EVIDENCE_PER_RULE};

fn level(l: &str) -> String {
    // Sigma's levels, shown with the report's severity colours.
    let class = match l {
        "informational" => "info",
        other => other,
    };
    format!("<span class=\"sev sev-{}\">{}</span>", esc(class), esc(l))
}

/// The anchor of a rule's evidence.
fn evidence_anchor(rule_id: &str) -> String {
    format!("det-{}", esc(rule_id))
}

pub fn detections_section(d: &DetectionsSection, every_detection: &str) -> String {
    let mut out = section_start("detections", "Detections", "");
    let levels: Vec<String> = d
        .by_level
        .iter()
        .rev()
        .filter(|(_, n)| **n > 0)
        .map(|(l, n)| format!("{n} {}", esc(l)))
        .collect();
    let _ = writeln!(
        out,
        "<p>{} ({} run): {} detections{}{}.</p>",
        esc(&d.rules),
        d.rules_run,
        d.detections,
        if levels.is_empty() { "" } else { ": " },
        levels.join(", ")
    );
    if !d.by_tactic.is_empty() {
        let tactics: Vec<String> = d
            .by_tactic
            .iter()
            .map(|(t, n)| format!("{} {n}", esc(t)))
            .collect();
        let _ = writeln!(out, "<p>By ATT&amp;CK tactic: {}.</p>", tactics.join(", "));
    }
    if !d.by_rule.is_empty() {
        let rows: Vec<(&str, Vec<String>)> = d
            .by_rule
            .iter()
            .map(|r| {
                let seen = match (&r.first_seen, &r.last_seen) {
                    (Some(first), Some(last)) if first != last => {
                        format!("{} to<br>{}", nowrap(&when(first)), nowrap(&when(last)))
                    }
                    (Some(first), _) => nowrap(&when(first)),
                    _ => "\u{2014}".to_string(),
                };
                (
                    "",
                    vec![
                        level(&r.level),
                        format!(
                            "<a href=\"#{}\">{}</a><br>{}",
                            evidence_anchor(&r.rule_id),
                            esc(&r.title),
                            code(&r.rule_id)
                        ),
                        esc(&tactics(&r.tags).join(", ")),
                        or_dash(r.author.as_deref()),
                        r.detections.to_string(),
                        seen,
                        r.principals.to_string(),
                        esc(&r.accounts.join(", ")),
                    ],
                )
            })
            .collect();
        out.push_str(&table(
            &[
                "Level",
                "Rule",
                "Tactics",
                "Author",
                "Detections",
                "First and last (UTC)",
                "Principals",
                "Accounts",
            ],
            &rows,
        ));
        let _ = writeln!(
            out,
            "<p>Each rule's first {EVIDENCE_PER_RULE} detections follow, with the event and log \
             file to open. Every detection, with all of a correlation's events: {}</p>",
            code(every_detection)
        );
        for r in &d.by_rule {
            let _ = writeln!(
                out,
                "<details id=\"{}\"><summary>{}: {} of {} (UTC)</summary>",
                evidence_anchor(&r.rule_id),
                esc(&r.title),
                r.evidence.len(),
                r.detections
            );
            let rows: Vec<(&str, Vec<String>)> = r
                .evidence
                .iter()
                .map(|h| {
                    (
                        "",
                        vec![
                            h.eventtime.as_deref().map_or_else(String::new, when),
                            or_dash(h.principal.as_deref()),
                            or_dash(h.eventname.as_deref()),
                            or_dash(h.sourceipaddress.as_deref()),
                            format!(
                                "{} / {}",
                                or_dash(h.account_id.as_deref()),
                                or_dash(h.region.as_deref())
                            ),
                            format!(
                                "{}<br>{}{}",
                                code(h.eventid.as_deref().unwrap_or("")),
                                code(h.log_file.as_deref().unwrap_or("")),
                                if h.event_count > 1 {
                                    format!("<br>(the first of {} events)", h.event_count)
                                } else {
                                    String::new()
                                }
                            ),
                        ],
                    )
                })
                .collect();
            out.push_str(&table(
                &[
                    "Time",
                    "Principal",
                    "Event",
                    "Source IP",
                    "Account / region",
                    "Evidence",
                ],
                &rows,
            ));
            out.push_str("</details>\n");
        }
    }
    if !d.not_run.is_empty() {
        let rows: Vec<(&str, Vec<String>)> = d
            .not_run
            .iter()
            .map(|n| ("", vec![esc(&n.rule), esc(&n.class), esc(&n.reason)]))
            .collect();
        out.push_str("<h3>Rules that did not run</h3>\n");
        out.push_str(&table(&["Rule", "Class", "Reason"], &rows));
    }
    out.push_str("</section>\n");
    out
}
