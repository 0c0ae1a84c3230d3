//! The frameworks and controls sections, and how evidence is shown.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::{
    code, control_link, esc, or_dash, section_start, severity, severity_pills, status_badge, table,
    when,
};
use crate::controls::Status;
use crate::report::frameworks::FrameworkSummary;
use crate::report::render::svg::count;
use crate::report::{ControlResult, FindingEntry};

/// Array items of evidence shown before "N more in the JSON report".
const EVIDENCE_ITEMS: usize = 20;
/// Characters of one evidence string shown.
const EVIDENCE_CHARS: usize = 1500;
/// Evidence this short (compact JSON) stays in its finding's row.
const EVIDENCE_INLINE_CHARS: usize = 120;
/// Evidence longer than this many lines is folded into `<details>`.
const EVIDENCE_OPEN_LINES: usize = 14;

// ---- 3. frameworks ----

pub(super) fn frameworks_section(
    frameworks: &[FrameworkSummary],
    controls: &[ControlResult],
) -> String {
    let mut out = section_start("frameworks", "Frameworks", "big");
    out.push_str(
        "<p>A requirement fails when a control mapped to it fails, and is inconclusive when none \
         fails but one could not decide. Each requirement lists the controls that decide its \
         status; the others mapped to it are counted.</p>\n",
    );
    let rows: Vec<_> = frameworks
        .iter()
        .map(|f| {
            let cells = vec![
                format!("<a href=\"#fw-{}\">{}</a>", esc(&f.id), esc(&f.name)),
                format!("{} of {}", f.requirements_failing, f.requirements_touched),
                format!("{} of {}", f.controls_failing, f.controls),
                f.controls_inconclusive.to_string(),
                severity_pills(&f.failing_by_severity),
            ];
            ("", cells)
        })
        .collect();
    let headers = [
        "Framework",
        "Requirements failing",
        "Controls failing",
        "Inconclusive",
        "Failing by severity",
    ];
    out.push_str(&table(&headers, &rows));
    let status_of: BTreeMap<&str, Status> =
        controls.iter().map(|c| (c.id.as_str(), c.status)).collect();
    for f in frameworks {
        out.push_str(&framework_block(f, &status_of));
    }
    out.push_str("</section>\n");
    out
}

fn framework_block(f: &FrameworkSummary, status_of: &BTreeMap<&str, Status>) -> String {
    let mut out = format!(
        "<div class=\"framework\" id=\"fw-{}\">\n<h3>{}</h3>\n",
        esc(&f.id),
        esc(&f.name)
    );
    let _ = writeln!(
        out,
        "<p>Requirements touched: <strong>{}</strong>, failing: <strong>{}</strong>. Controls \
         mapped: {}, failing: {}, inconclusive: {}.</p>",
        f.requirements_touched,
        f.requirements_failing,
        f.controls,
        f.controls_failing,
        f.controls_inconclusive,
    );
    let rows: Vec<_> = f
        .requirements
        .iter()
        .map(|r| {
            // The controls with the requirement's own status decide it.
            let deciding: Vec<String> = r
                .controls
                .iter()
                .filter(|c| status_of.get(c.as_str()) == Some(&r.status))
                .map(|c| control_link(c))
                .collect();
            let others = r.controls.len() - deciding.len();
            let cells = vec![
                code(&r.id),
                status_badge(r.status),
                deciding.join(" "),
                others.to_string(),
            ];
            ("", cells)
        })
        .collect();
    let headers = ["Requirement", "Status", "Deciding controls", "Others"];
    out.push_str(&table(&headers, &rows));
    if !f.inconclusive.is_empty() {
        let items: Vec<String> = f
            .inconclusive
            .iter()
            .map(|i| match i.lacks.is_empty() {
                true => control_link(&i.control_id),
                false => format!(
                    "{} (lacked {})",
                    control_link(&i.control_id),
                    esc(&i.lacks.join("; "))
                ),
            })
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"small\">Inconclusive ({}; what each lacked is in its findings): {}</p>",
            items.len(),
            items.join(", ")
        );
    }
    out.push_str("</div>\n");
    out
}

// ---- 4. controls ----

pub(super) fn controls_section(controls: &[ControlResult]) -> String {
    let mut out = section_start("controls", "Controls", "big");
    out.push_str("<p>Every control, failing first, then by severity. A control's status is its worst finding's.</p>\n");
    let rows: Vec<_> = controls
        .iter()
        .map(|c| {
            let n = |s: Status| c.findings.iter().filter(|f| f.status == s).count();
            (
                "",
                vec![
                    control_link(&c.id),
                    esc(&c.title),
                    severity(c.severity.as_str()),
                    status_badge(c.status),
                    format!(
                        "{} / {} / {}",
                        n(Status::Fail),
                        n(Status::Inconclusive),
                        n(Status::Pass)
                    ),
                ],
            )
        })
        .collect();
    out.push_str(&table(
        &[
            "Control",
            "Title",
            "Severity",
            "Status",
            "Findings fail / inconcl. / pass",
        ],
        &rows,
    ));
    for c in controls {
        out.push_str(&control_block(c));
    }
    out.push_str("</section>\n");
    out
}

fn control_block(c: &ControlResult) -> String {
    let status = c.status.as_str();
    let mut out = format!(
        "<article class=\"control st-{status}\" id=\"ctl-{id}\">\n<h3>{} {} <code>{id}</code> {}</h3>\n<dl class=\"kv\">\n",
        status_badge(c.status),
        severity(c.severity.as_str()),
        esc(&c.title),
        id = esc(&c.id),
    );
    let requirements: Vec<String> = c
        .requirements
        .iter()
        .map(|(fw, ids)| {
            format!(
                "<span class=\"req\"><b>{}</b> {}</span>",
                esc(fw),
                esc(&ids.join(", "))
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<dt>Requirements</dt><dd>{}</dd>",
        if requirements.is_empty() {
            "\u{2014}".into()
        } else {
            requirements.join(" ")
        }
    );
    let _ = writeln!(
        out,
        "<dt>Kind, domain</dt><dd>{}, {}</dd>",
        esc(&format!("{:?}", c.kind).to_lowercase()),
        esc(&c.domain)
    );
    if let Some(d) = &c.description {
        let _ = writeln!(out, "<dt>Checks</dt><dd>{}</dd>", esc(d));
    }
    let _ = writeln!(out, "<dt>Remediation</dt><dd>{}</dd>", esc(&c.remediation));
    if !c.lacks.is_empty() {
        let _ = writeln!(out, "<dt>Lacked</dt><dd>{}</dd>", esc(&c.lacks.join("; ")));
    }
    out.push_str("</dl>\n");
    let findings = findings_table(&c.findings);
    if c.status == Status::Pass {
        let _ = write!(
            out,
            "<details class=\"findings\"><summary>{} passing finding(s)</summary>\n{findings}</details>\n",
            c.findings.len()
        );
    } else {
        out.push_str(&findings);
    }
    out.push_str("</article>\n");
    out
}

fn findings_table(findings: &[FindingEntry]) -> String {
    if findings.is_empty() {
        return "<p class=\"muted\">No findings: the control produced no verdict.</p>\n".into();
    }
    let mut out = String::from(
        "<table class=\"findings\">\n<thead><tr><th>Status</th><th>Resource</th><th>Account</th>\
         <th>Region</th><th>Window (UTC)</th><th>Evidence</th></tr></thead>\n",
    );
    for f in findings {
        let window = match (&f.window_start, &f.window_end) {
            (None, None) => "\u{2014}".to_string(),
            (start, end) => format!(
                "{} \u{2192} {}",
                start.as_deref().map_or("\u{2014}".into(), when),
                end.as_deref().map_or("\u{2014}".into(), when)
            ),
        };
        let (cell, block) = match evidence(&f.evidence) {
            Evidence::Inline(html) => (html, String::new()),
            Evidence::Block { outline, html } => (
                format!("<span class=\"small muted\">{}</span>", esc(&outline)),
                format!("<tr class=\"evidence\"><td colspan=\"6\">{html}</td></tr>\n"),
            ),
        };
        let _ = write!(
            out,
            "<tbody class=\"finding\"><tr><td>{}</td><td>{}</td><td class=\"nowrap\">{}</td>\
             <td class=\"nowrap\">{}</td><td class=\"nowrap small\">{window}</td><td>{cell}</td></tr>\n\
             {block}</tbody>\n",
            status_badge(f.status),
            code(&f.resource),
            or_dash(f.account_id.as_deref()),
            or_dash(f.region.as_deref()),
        );
    }
    out.push_str("</table>\n");
    out
}

enum Evidence {
    /// Short enough for the findings row.
    Inline(String),
    /// A block under the row: pretty JSON, folded when long.
    Block { outline: String, html: String },
}

/// Evidence as JSON: embedded JSON text (controls return lists as JSON strings) is expanded so
/// it reads as structure; lists of records (calls, events) become tables, so each one's log file
/// sits on its row; long lists and strings are cut with a note.
fn evidence(value: &Value) -> Evidence {
    let outline = outline(&readable(value, usize::MAX, &mut 0));
    let mut omitted = 0;
    let readable = readable(value, EVIDENCE_ITEMS, &mut omitted);
    let compact = serde_json::to_string(&readable).unwrap_or_default();
    if omitted == 0 && compact.chars().count() <= EVIDENCE_INLINE_CHARS {
        return Evidence::Inline(format!(
            "<code class=\"ev-inline\">{}</code>",
            esc(&compact)
        ));
    }
    let (body, lines) = match records(&readable) {
        Some((rest, tables)) => record_tables(&rest, &tables),
        None => {
            let pretty = serde_json::to_string_pretty(&readable).unwrap_or_default();
            let lines = pretty.lines().count();
            (format!("<pre>{}</pre>", esc(&pretty)), lines)
        }
    };
    let note = if omitted > 0 {
        format!(
            "<p class=\"note\">{} more item(s) in the JSON report.</p>",
            count(omitted as u64)
        )
    } else {
        String::new()
    };
    let html = if lines <= EVIDENCE_OPEN_LINES {
        format!("{body}{note}")
    } else {
        format!(
            "<details class=\"ev\"><summary>Evidence: {}</summary>{body}{note}</details>",
            esc(&outline)
        )
    };
    Evidence::Block { outline, html }
}

type Record = serde_json::Map<String, Value>;
/// A list of records in evidence, by its key.
type RecordList = (String, Vec<Record>);

/// Splits an evidence object into its lists of flat records (objects of scalars) and the rest;
/// `None` when it has no such list.
fn records(value: &Value) -> Option<(Record, Vec<RecordList>)> {
    let Value::Object(map) = value else {
        return None;
    };
    let flat = |v: &Value| matches!(v, Value::Object(o) if o.values().all(|x| !x.is_object() && !x.is_array()));
    let mut rest = Record::new();
    let mut tables = Vec::new();
    for (key, v) in map {
        match v {
            Value::Array(items) if !items.is_empty() && items.iter().all(flat) => {
                let rows = items
                    .iter()
                    .filter_map(|i| i.as_object().cloned())
                    .collect();
                tables.push((key.clone(), rows));
            }
            other => {
                rest.insert(key.clone(), other.clone());
            }
        }
    }
    (!tables.is_empty()).then_some((rest, tables))
}

/// The other fields on one line, then a table per list of records; and how many lines that is.
fn record_tables(rest: &Record, tables: &[RecordList]) -> (String, usize) {
    let mut out = String::new();
    let mut lines = 0;
    if !rest.is_empty() {
        let fields = serde_json::to_string(rest).unwrap_or_default();
        let _ = write!(out, "<code class=\"ev-inline\">{}</code>", esc(&fields));
        lines += 1;
    }
    for (key, rows) in tables {
        let columns: std::collections::BTreeSet<&String> =
            rows.iter().flat_map(|r| r.keys()).collect();
        let _ = write!(
            out,
            "<table class=\"ev\"><caption>{}</caption><thead><tr>",
            esc(key)
        );
        for c in &columns {
            let _ = write!(out, "<th>{}</th>", esc(c));
        }
        out.push_str("</tr></thead><tbody>");
        for row in rows {
            out.push_str("<tr>");
            for c in &columns {
                let cell = match row.get(*c) {
                    None | Some(Value::Null) => "\u{2014}".to_string(),
                    Some(Value::String(s)) => esc(s),
                    Some(other) => esc(&other.to_string()),
                };
                // Long values (ARNs, keys) may wrap anywhere; short ones (regions, IPs) never.
                let class = if cell.len() > 32 { "long" } else { "short" };
                let _ = write!(out, "<td class=\"{class}\">{cell}</td>");
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        lines += rows.len() + 2;
    }
    (out, lines)
}

/// `check: events; events: 3 items`: what a folded evidence block holds.
fn outline(value: &Value) -> String {
    let Value::Object(map) = value else {
        return "value".into();
    };
    let parts: Vec<String> = map
        .iter()
        .take(6)
        .map(|(k, v)| match v {
            Value::Array(items) => format!("{k}: {} item(s)", items.len()),
            Value::Object(_) => format!("{k}: {{\u{2026}}}"),
            Value::String(s) => format!("{k}: {}", s.chars().take(40).collect::<String>()),
            other => format!("{k}: {other}"),
        })
        .collect();
    parts.join("; ")
}

/// `value` with embedded JSON text parsed, arrays cut to `items`, long strings cut; `omitted`
/// counts the array items left out.
fn readable(value: &Value, items: usize, omitted: &mut usize) -> Value {
    match value {
        Value::String(s) if s.starts_with(['[', '{']) => match serde_json::from_str::<Value>(s) {
            Ok(inner) => readable(&inner, items, omitted),
            Err(_) => cut(s),
        },
        Value::String(s) => cut(s),
        Value::Array(list) => {
            *omitted += list.len().saturating_sub(items);
            let kept = list.iter().take(items);
            Value::Array(kept.map(|i| readable(i, items, omitted)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), readable(v, items, omitted)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn cut(s: &str) -> Value {
    if s.chars().count() <= EVIDENCE_CHARS {
        return Value::String(s.to_string());
    }
    let head: String = s.chars().take(EVIDENCE_CHARS).collect();
    Value::String(format!("{head}\u{2026} (cut; the JSON report has it all)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_evidence_stays_in_the_row_escaped() {
        let Evidence::Inline(html) = evidence(&serde_json::json!({"ua": "<script>"})) else {
            panic!("short evidence is inline");
        };
        assert_eq!(
            html,
            "<code class=\"ev-inline\">{&quot;ua&quot;:&quot;&lt;script&gt;&quot;}</code>"
        );
    }

    #[test]
    fn embedded_json_is_expanded_and_long_lists_cut() {
        let calls: Vec<_> = (0..25)
            .map(|i| serde_json::json!({"log_file": format!("AWSLogs/{i}.json.gz")}))
            .collect();
        let value = serde_json::json!({"calls": serde_json::Value::Array(calls).to_string()});
        let Evidence::Block { outline, html } = evidence(&value) else {
            panic!("long evidence is a block");
        };
        assert_eq!(outline, "calls: 25 item(s)");
        assert!(html.contains("<th>log_file</th>"));
        assert!(html.contains("<td class=\"short\">AWSLogs/19.json.gz</td>"));
        assert!(!html.contains("AWSLogs/20.json.gz"));
        assert!(html.contains("5 more item(s) in the JSON report"));
        assert!(html.starts_with("<details"));
    }
}
