//! The detections section: hits of the Sigma rules by rule and level, then each hit with its
//! evidence (event id and log file), and the rules that did not run, with why.

use std::fmt::Write;

use super::{code, esc, or_dash, section_start, table, when};
use crate::report::detections::DetectionsSection;

fn level(l: &str) -> String {
    // Sigma's levels, shown with the report's severity colours.
    let class = match l {
        "informational" => "info",
        other => other,
    };
    format!("<span class=\"sev sev-{}\">{}</span>", esc(class), esc(l))
}

pub fn detections_section(d: &DetectionsSection) -> String {
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
        d.hits.len(),
        if levels.is_empty() { "" } else { ": " },
        levels.join(", ")
    );
    if !d.by_rule.is_empty() {
        let rows: Vec<(&str, Vec<String>)> = d
            .by_rule
            .iter()
            .map(|r| {
                (
                    "",
                    vec![
                        level(&r.level),
                        format!("{}<br>{}", esc(&r.title), code(&r.rule_id)),
                        esc(&r.tags.join(", ")),
                        or_dash(r.author.as_deref()),
                        r.detections.to_string(),
                    ],
                )
            })
            .collect();
        out.push_str(&table(
            &["Level", "Rule", "Tags", "Author", "Detections"],
            &rows,
        ));
        let _ = writeln!(
            out,
            "<details><summary>Every detection, with its evidence (UTC)</summary>"
        );
        let rows: Vec<(&str, Vec<String>)> = d
            .hits
            .iter()
            .map(|h| {
                (
                    "",
                    vec![
                        h.eventtime.as_deref().map_or_else(String::new, when),
                        level(&h.level),
                        esc(&h.title),
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
                                format!("<br>({} events; all in the JSON report)", h.event_count)
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
                "Level",
                "Rule",
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
