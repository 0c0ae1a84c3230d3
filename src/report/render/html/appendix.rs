//! The activity section (its charts built here from the rollup, drawn by [`svg`]), read errors
//! and the evidence manifest.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{code, esc, or_dash, section_start, table};
use crate::report::ComplianceReport;
use crate::report::activity::{ActivitySection, ConsoleLogins};
use crate::report::manifest::InputObject;
use crate::report::render::svg::{PALETTE, Series, bars, columns, count};

/// Manifest objects listed in the page (the JSON report has them all).
const MANIFEST_ROWS: usize = 200;

// ---- 6. activity ----

pub(super) fn activity_section(report: &ComplianceReport) -> String {
    let a = &report.activity;
    let t = &a.totals;
    let mut out = section_start("activity", "Activity", "big");
    let _ = writeln!(
        out,
        "<p>{} events ({} errors) from {} principals in {} account(s) and {} region(s). Days without any event are drawn as zero.</p>",
        count(t.events),
        count(t.errors),
        count(t.principals),
        count(t.accounts),
        count(t.regions)
    );
    for (title, chart) in activity_charts(a) {
        let _ = writeln!(
            out,
            "<figure class=\"activity\"><figcaption>{}</figcaption>{chart}</figure>",
            esc(title)
        );
    }
    if let Some(places) = console_login_places(a) {
        out.push_str(&places);
    }
    let _ = writeln!(out, "<h3>Root user activity ({})</h3>", a.root_usage.len());
    if a.root_usage.is_empty() {
        out.push_str("<p class=\"muted\">No root user activity in the period.</p>\n");
    } else {
        let rows: Vec<_> = a
            .root_usage
            .iter()
            .map(|r| {
                (
                    "crit",
                    vec![
                        esc(&r.account_id),
                        esc(&r.day),
                        esc(&r.eventname),
                        count(r.events),
                        count(r.errors),
                    ],
                )
            })
            .collect();
        out.push_str(&table(
            &["Account", "Day", "Event", "Events", "Errors"],
            &rows,
        ));
    }
    out.push_str("</section>\n");
    out
}

// ---- 7. read errors and the evidence manifest ----

pub(super) fn read_errors_section(report: &ComplianceReport) -> String {
    let mut out = section_start("read-errors", "Read errors", "");
    if report.read_errors.is_empty() {
        out.push_str("<p>None: every object that looks like CloudTrail's was read.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p class=\"bad\">{} object(s) could not be read; their events are not in this report.</p>",
            report.read_errors.len()
        );
        if report.summary.unfetched > 0 {
            let _ = writeln!(
                out,
                "<p class=\"bad\">{} of them could not be fetched from the store (class \
                 <code>unfetched</code>): this report is partial, not a finding about them.</p>",
                report.summary.unfetched
            );
        }
        let rows: Vec<_> = report
            .read_errors
            .iter()
            .map(|e| ("", vec![code(&e.key), esc(&e.class), esc(&e.reason)]))
            .collect();
        out.push_str(&table(&["Key", "Class", "Reason"], &rows));
    }
    out.push_str("</section>\n");
    out
}

/// How to recompute `report_sha256` from the JSON report (see `manifest::seal`).
const VERIFY: &str = "python3 -c 'import json,hashlib,sys; d=json.load(open(sys.argv[1])); \
d[\"manifest\"][\"report_sha256\"]=None; print(hashlib.sha256(json.dumps(d,sort_keys=True,\
separators=(\",\",\":\"),ensure_ascii=False).encode()).hexdigest())' report.json";

pub(super) fn manifest_section(report: &ComplianceReport) -> String {
    let m = &report.manifest;
    let mut out = section_start("manifest", "Evidence manifest", "big");
    let bytes = |objects: &[InputObject]| count(objects.iter().map(|o| o.size).sum());
    let mut rows = vec![
        (
            "",
            vec![
                "Log files".into(),
                count(m.log_files.len() as u64),
                format!("{} bytes", bytes(&m.log_files)),
            ],
        ),
        (
            "",
            vec![
                "Digest files".into(),
                count(m.digests.len() as u64),
                format!("{} bytes", bytes(&m.digests)),
            ],
        ),
        (
            "",
            vec![
                "Controls".into(),
                count(m.controls as u64),
                format!("catalog SHA-256 {}", code(&m.controls_sha256)),
            ],
        ),
    ];
    for s in &m.snapshots {
        rows.push((
            "",
            vec![
                format!("Snapshot {}", code(&s.file)),
                format!("account {}", esc(&s.account_id)),
                format!(
                    "captured {}; SHA-256 {}",
                    or_dash(s.captured_at.as_deref()),
                    code(&s.sha256)
                ),
            ],
        ));
    }
    for f in &m.enrichment {
        rows.push((
            "",
            vec![
                format!("Enrichment {}", code(&f.role)),
                code(&f.path),
                format!(
                    "{}; built {}; SHA-256 {}",
                    esc(&f.about),
                    or_dash(f.built.as_deref()),
                    code(&f.sha256)
                ),
            ],
        ));
    }
    out.push_str(&table(&["Input", "Count", "Detail"], &rows));
    let _ = writeln!(
        out,
        "<h3>Verifying this report</h3>\n<p>Report SHA-256: {}. It is the SHA-256 of the same report in JSON, in canonical form: compact, object keys sorted, with <code>manifest.report_sha256</code> set to null. This page is rendered from that value. To check a JSON report:</p>\n<pre>{}</pre>",
        code(m.report_sha256.as_deref().unwrap_or("(unsealed)")),
        esc(VERIFY)
    );
    out.push_str(&parameters(report));
    let total = m.log_files.len() + m.digests.len();
    let _ = writeln!(
        out,
        "<h3>Input objects</h3>\n<p class=\"muted\">Showing {} of {} objects (SHA-256 of the stored bytes); the full list is in the JSON report (<code>manifest.log_files</code>, <code>manifest.digests</code>).</p>",
        count(total.min(MANIFEST_ROWS) as u64),
        count(total as u64)
    );
    let listed = m
        .digests
        .iter()
        .map(|o| ("digest", o))
        .chain(m.log_files.iter().map(|o| ("log file", o)))
        .take(MANIFEST_ROWS);
    let rows: Vec<_> = listed
        .map(|(kind, o)| {
            (
                "",
                vec![
                    kind.to_string(),
                    format!("<span class=\"mono small\">{}</span>", esc(&o.key)),
                    count(o.size),
                    format!("<span class=\"mono small\">{}</span>", esc(&o.sha256)),
                ],
            )
        })
        .collect();
    out.push_str(&table(&["Type", "Key", "Bytes", "SHA-256"], &rows));
    out.push_str("</section>\n");
    out
}

fn parameters(report: &ComplianceReport) -> String {
    let s = &report.scope;
    let mut rows = vec![
        (
            "",
            vec![
                code("gap_threshold_minutes"),
                esc(&s.gap_threshold_minutes.to_string()),
            ],
        ),
        (
            "",
            vec![
                code("late_margin_hours"),
                esc(&s.late_margin_hours.to_string()),
            ],
        ),
    ];
    for (name, value) in &s.parameters {
        rows.push(("", vec![code(name), code(&value.to_string())]));
    }
    format!(
        "<h3>Parameters in effect</h3>\n{}",
        table(&["Parameter", "Value"], &rows)
    )
}

// ---- the activity charts ----

/// The activity section's charts, each with its caption, in reading order.
fn activity_charts(a: &ActivitySection) -> Vec<(&'static str, String)> {
    let days: Vec<String> = a
        .per_day
        .iter()
        .map(|d| d.day.clone())
        .chain(a.quiet_days.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // A chart without data says so: an absent chart reads like a rendering fault.
    let or_none = |empty: bool, chart: &dyn Fn() -> String| match empty {
        true => "<p class=\"muted\">None in the period.</p>".to_string(),
        false => chart(),
    };
    vec![
        (
            "Events per day, by account",
            or_none(days.is_empty(), &|| events_per_day(a, &days)),
        ),
        (
            "Error rate per day (calls that returned an error code)",
            or_none(days.is_empty(), &|| error_rate(a, &days)),
        ),
        (
            "Most active principals",
            or_none(a.top_principals.is_empty(), &|| top_principals(a)),
        ),
        (
            "Errors by code",
            or_none(a.errors_by_code.is_empty(), &|| errors_by_code(a)),
        ),
        (
            "Console sign-ins per account",
            or_none(a.console_logins.is_empty(), &|| console_logins(a)),
        ),
    ]
}

/// Console sign-ins by place, when the report was given `--geoip` or `--asn`.
fn console_login_places(a: &ActivitySection) -> Option<String> {
    let places = a.console_login_places.as_ref()?;
    if places.is_empty() {
        return Some(
            "<h3>Console sign-ins by place</h3>\n<p class=\"muted\">None in the period.</p>\n"
                .to_string(),
        );
    }
    let rows: Vec<(&str, Vec<String>)> = places
        .iter()
        .map(|p| {
            (
                if p.failed > 0 { "crit" } else { "" },
                vec![
                    esc(&p.account_id),
                    esc(&p.place.describe()),
                    count(p.succeeded),
                    count(p.failed),
                    count(p.principals),
                ],
            )
        })
        .collect();
    Some(format!(
        "<h3>Console sign-ins by place</h3>\n{}",
        table(
            &["Account", "Place", "Succeeded", "Failed", "Principals"],
            &rows
        )
    ))
}

/// `10-01` for `2026-10-01`: the year is in the header.
fn short_day(day: &str) -> String {
    day.get(5..).unwrap_or(day).to_string()
}

fn events_per_day(a: &ActivitySection, days: &[String]) -> String {
    let accounts: BTreeSet<&str> = a.per_day.iter().map(|d| d.account_id.as_str()).collect();
    let series: Vec<Series> = accounts
        .iter()
        .enumerate()
        .map(|(i, account)| Series {
            name: (*account).to_string(),
            color: PALETTE[i % PALETTE.len()],
            values: days
                .iter()
                .map(|day| {
                    a.per_day
                        .iter()
                        .filter(|d| &d.day == day && d.account_id == *account)
                        .map(|d| d.events as f64)
                        .sum()
                })
                .collect(),
        })
        .collect();
    let labels: Vec<String> = days.iter().map(|d| short_day(d)).collect();
    columns(
        "Events per day, stacked by account",
        "Events",
        &labels,
        &series,
        &|_, total| count(total as u64),
    )
}

fn error_rate(a: &ActivitySection, days: &[String]) -> String {
    let sums: Vec<(u64, u64)> = days
        .iter()
        .map(|day| {
            a.per_day
                .iter()
                .filter(|d| &d.day == day)
                .fold((0, 0), |(e, r), d| (e + d.events, r + d.errors))
        })
        .collect();
    let rates: Vec<f64> = sums
        .iter()
        .map(|(events, errors)| {
            if *events == 0 {
                0.0
            } else {
                100.0 * *errors as f64 / *events as f64
            }
        })
        .collect();
    let series = [Series {
        name: "error rate".into(),
        color: "#b5534a",
        values: rates,
    }];
    let labels: Vec<String> = days.iter().map(|d| short_day(d)).collect();
    columns(
        "Error rate per day, percent of events",
        "Errors (% of events)",
        &labels,
        &series,
        &|i, rate| match sums[i] {
            // A day without events has no rate; the events chart above shows it as zero.
            (0, _) => String::new(),
            (_, errors) if days.len() <= 14 => format!("{rate:.1}% ({errors})"),
            _ => format!("{rate:.1}%"),
        },
    )
}

fn top_principals(a: &ActivitySection) -> String {
    let rows: Vec<(String, String)> = a
        .top_principals
        .iter()
        .map(|p| {
            let places = p.places.as_ref().map_or_else(String::new, |places| {
                let named: Vec<String> = places.iter().map(|pl| pl.place.describe()).collect();
                format!("; from {}", named.join(" / "))
            });
            (
                p.principal.clone(),
                format!(
                    "{} ({} errors, {}{places})",
                    count(p.events),
                    count(p.errors),
                    p.principal_type
                ),
            )
        })
        .collect();
    let ok = a
        .top_principals
        .iter()
        .map(|p| p.events.saturating_sub(p.errors) as f64);
    let series = [
        Series {
            name: "succeeded".into(),
            color: PALETTE[0],
            values: ok.collect(),
        },
        Series {
            name: "errors".into(),
            color: "#b5534a",
            values: a.top_principals.iter().map(|p| p.errors as f64).collect(),
        },
    ];
    bars("Most active principals by events", "Events", &rows, &series)
}

fn errors_by_code(a: &ActivitySection) -> String {
    let rows: Vec<(String, String)> = a
        .errors_by_code
        .iter()
        .map(|e| {
            (
                e.errorcode.clone(),
                format!("{} ({} principals)", count(e.events), count(e.principals)),
            )
        })
        .collect();
    let series = [Series {
        name: "errors".into(),
        color: "#b5534a",
        values: a.errors_by_code.iter().map(|e| e.events as f64).collect(),
    }];
    bars(
        "Errors by error code",
        "Events with this error code",
        &rows,
        &series,
    )
}

fn console_logins(a: &ActivitySection) -> String {
    let rows: Vec<(String, String)> = a
        .console_logins
        .iter()
        .map(|c| {
            (
                format!("account {}", c.account_id),
                format!(
                    "{} with MFA, {} without, {} failed",
                    c.with_mfa, c.without_mfa, c.failed
                ),
            )
        })
        .collect();
    let values =
        |f: fn(&ConsoleLogins) -> u64| a.console_logins.iter().map(|c| f(c) as f64).collect();
    let series = [
        Series {
            name: "with MFA".into(),
            color: "#5e8c61",
            values: values(|c| c.with_mfa),
        },
        Series {
            name: "without MFA".into(),
            color: "#d08c2f",
            values: values(|c| c.without_mfa),
        },
        Series {
            name: "failed".into(),
            color: "#a61b1b",
            values: values(|c| c.failed),
        },
    ];
    bars(
        "Console sign-ins per account: with MFA, without MFA, failed",
        "Sign-ins",
        &rows,
        &series,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::activity::{DayCount, Totals};

    fn quiet_week() -> ActivitySection {
        ActivitySection {
            totals: Totals::default(),
            per_day: Vec::new(),
            quiet_days: vec!["2026-10-01".into(), "2026-10-02".into()],
            top_principals: Vec::new(),
            errors_by_code: Vec::new(),
            console_login_places: None,
            console_logins: Vec::new(),
            root_usage: Vec::new(),
        }
    }

    #[test]
    fn charts_without_data_say_so() {
        let charts = activity_charts(&quiet_week());
        assert_eq!(charts.len(), 5);
        assert!(
            charts[0].1.starts_with("<svg class=\"chart\""),
            "quiet days are zeros"
        );
        assert!(charts[2].1.contains("None in the period."));
    }

    #[test]
    fn days_without_events_have_no_error_rate() {
        let mut week = quiet_week();
        week.per_day.push(DayCount {
            day: "2026-10-02".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            events: 200,
            errors: 5,
        });
        let days = vec!["2026-10-01".to_string(), "2026-10-02".to_string()];
        let chart = error_rate(&week, &days);
        assert!(chart.contains(">2.5% (5)</text>"), "{chart}");
        assert_eq!(
            chart.matches('%').count(),
            2,
            "one rate label and the axis title"
        );
    }
}
