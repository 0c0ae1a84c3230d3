//! `detect --format html`: one self-contained timeline page an investigator reads. Counts per
//! rule and per ATT&CK tactic, then the hits grouped into bursts per principal (hits of one
//! principal less than [`BURST_GAP_MINUTES`] apart), each hit with its rule, author and log file.
//! Filters by level and rule are a few lines of inline script (the page also reads them from
//! its address: `#level=high,critical&rule=<id>`); without script every hit shows.
//!
//! Every value from the archive or a rule is attacker- or author-controlled and goes through
//! [`esc`]. No clock, no fetches: the same hits render to the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::rule::{Level, tactics};
use super::run::Hit;
use crate::output::html::esc;

/// Hits of one principal closer than this are one burst.
pub const BURST_GAP_MINUTES: i64 = 30;

/// What the page says about the run, beside the hits.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    /// The archive (and scope) as the user gave it.
    pub archive: String,
    /// `N rules loaded, K skipped, F failed`.
    pub rules: String,
    pub events_scanned: u64,
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}\
.meta{color:#566}table{border-collapse:collapse;margin:4px 0 12px}\
td,th{border-bottom:1px solid #dde;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f3f5f9}.n{text-align:right}code{font-size:12px;word-break:break-all}\
.level{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}\
.critical{background:#7a0019}.high{background:#c0392b}.medium{background:#d68910}\
.low{background:#2e86c1}.informational{background:#7f8c8d}\
details.burst{border:1px solid #dde;border-radius:4px;margin:6px 0;padding:4px 8px}\
summary{cursor:pointer}#filters{background:#f8f9fb;padding:8px;border-radius:4px}\
#filters label{margin-right:10px}@media print{#filters{display:none}details{page-break-inside:avoid}}";

const SCRIPT: &str = r#"(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.hit'));
  var levels = document.querySelectorAll('input[name=level]');
  var rule = document.getElementById('rule');
  function apply() {
    var on = {};
    levels.forEach(function (i) { on[i.value] = i.checked; });
    var shown = 0;
    rows.forEach(function (r) {
      var keep = on[r.dataset.level] && (rule.value === '' || r.dataset.rule === rule.value);
      r.hidden = !keep;
      if (keep) { shown += 1; }
    });
    document.querySelectorAll('details.burst').forEach(function (b) {
      var n = b.querySelectorAll('tr.hit:not([hidden])').length;
      b.hidden = n === 0;
      b.querySelector('.shown').textContent = n;
    });
    document.getElementById('shown').textContent = shown;
  }
  var hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get('level')) {
    var wanted = hash.get('level').split(',');
    levels.forEach(function (i) { i.checked = wanted.indexOf(i.value) >= 0; });
  }
  if (hash.get('rule')) { rule.value = hash.get('rule'); }
  levels.forEach(function (i) { i.addEventListener('change', apply); });
  rule.addEventListener('change', apply);
  apply();
})();"#;

fn or_dash(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "-".to_string(), esc)
}

fn minutes(time: &str) -> Option<i64> {
    crate::time::parse_rfc3339(time).map(|t| t.timestamp() / 60)
}

fn level_badge(level: Level) -> String {
    format!("<span class=\"level {0}\">{0}</span>", level.as_str())
}

/// Hits grouped by principal, split where two are more than the burst gap apart.
fn bursts(hits: &[Hit]) -> Vec<(String, Vec<&Hit>)> {
    let mut by_principal: BTreeMap<String, Vec<&Hit>> = BTreeMap::new();
    for h in hits {
        let who = h
            .first
            .principal
            .clone()
            .unwrap_or_else(|| "(no principal)".into());
        by_principal.entry(who).or_default().push(h);
    }
    let mut out: Vec<(String, Vec<&Hit>)> = Vec::new();
    for (who, list) in by_principal {
        let mut current: Vec<&Hit> = Vec::new();
        let mut last: Option<i64> = None;
        for h in list {
            let at = h.first.eventtime.as_deref().and_then(minutes);
            let gap = matches!((last, at), (Some(l), Some(a)) if a - l > BURST_GAP_MINUTES);
            if gap && !current.is_empty() {
                out.push((who.clone(), std::mem::take(&mut current)));
            }
            last = at.or(last);
            current.push(h);
        }
        if !current.is_empty() {
            out.push((who, current));
        }
    }
    // A timeline: bursts by their first hit.
    out.sort_by(|a, b| {
        let first = |b: &(String, Vec<&Hit>)| (b.1[0].first.eventtime.clone(), b.0.clone());
        first(a).cmp(&first(b))
    });
    out
}

/// The page.
pub fn render(hits: &[Hit], context: &PageContext) -> String {
    let mut out = String::with_capacity(64 * 1024 + hits.len() * 600);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>trailscope detections</title><style>{STYLE}</style></head><body>\n\
         <h1>Detections</h1><p class=\"meta\">{} · {} · {} events scanned · {} detections</p>\n",
        esc(&context.archive),
        esc(&context.rules),
        context.events_scanned,
        hits.len()
    );

    // Counts per rule, then per tactic.
    let mut per_rule: BTreeMap<(Level, String, String), (usize, String, String)> = BTreeMap::new();
    let mut per_tactic: BTreeMap<String, usize> = BTreeMap::new();
    for h in hits {
        let entry = per_rule
            .entry((h.level, h.rule_id.clone(), h.title.clone()))
            .or_insert((
                0,
                h.author.clone().unwrap_or_default(),
                tactics(&h.tags).join(", "),
            ));
        entry.0 += 1;
        for t in tactics(&h.tags) {
            *per_tactic.entry(t).or_default() += 1;
        }
    }
    out.push_str("<h2>By rule</h2><table id=\"rules\"><tr><th>level</th><th>rule</th><th>tactics</th><th>author</th><th class=\"n\">detections</th></tr>\n");
    for ((level, id, title), (n, author, tactic)) in per_rule.iter().rev() {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}<br><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{n}</td></tr>",
            level_badge(*level),
            esc(title),
            esc(id),
            esc(tactic),
            esc(author)
        );
    }
    out.push_str("</table>\n<h2>By tactic</h2><table id=\"tactics\"><tr><th>tactic</th><th class=\"n\">detections</th></tr>\n");
    for (tactic, n) in &per_tactic {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
            esc(tactic)
        );
    }
    out.push_str("</table>\n");

    // Filters.
    out.push_str("<h2>Timeline</h2><div id=\"filters\">Level: ");
    for level in Level::ALL.iter().rev() {
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" name=\"level\" value=\"{0}\" checked> {0}</label>",
            level.as_str()
        );
    }
    out.push_str(" Rule: <select id=\"rule\"><option value=\"\">all rules</option>");
    for (_, id, title) in per_rule.keys() {
        let _ = write!(out, "<option value=\"{}\">{}</option>", esc(id), esc(title));
    }
    let _ = writeln!(
        out,
        "</select> · <span id=\"shown\">{}</span> shown</div>",
        hits.len()
    );

    // Bursts.
    for (who, list) in bursts(hits) {
        let first = list[0].first.eventtime.clone().unwrap_or_default();
        let last = list[list.len() - 1]
            .first
            .eventtime
            .clone()
            .unwrap_or_default();
        let top = list
            .iter()
            .map(|h| h.level)
            .max()
            .unwrap_or(Level::Informational);
        let _ = writeln!(
            out,
            "<details class=\"burst\" open><summary>{} <b>{}</b> · {} – {} · <span class=\"shown\">{}</span> of {} detections</summary>",
            level_badge(top),
            esc(&who),
            esc(&first),
            esc(&last),
            list.len(),
            list.len()
        );
        out.push_str("<table><tr><th>time</th><th>level</th><th>rule</th><th>event</th><th>source ip</th><th>account / region</th><th>evidence</th></tr>\n");
        for h in list {
            let e = &h.first;
            let evidence = if h.events.is_empty() {
                format!(
                    "<code>{}</code><br><code>{}</code>",
                    or_dash(&e.eventid),
                    or_dash(&e.log_file)
                )
            } else {
                let mut items = String::new();
                for ev in &h.events {
                    let _ = write!(
                        items,
                        "<li>{} {} <code>{}</code> <code>{}</code></li>",
                        or_dash(&ev.eventtime),
                        or_dash(&ev.eventname),
                        or_dash(&ev.eventid),
                        or_dash(&ev.log_file)
                    );
                }
                format!(
                    "<details><summary>{} events</summary><ul>{items}</ul></details>",
                    h.events.len()
                )
            };
            let _ = writeln!(
                out,
                "<tr class=\"hit\" data-level=\"{}\" data-rule=\"{}\"><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td><td>{}<br><small>{}</small></td><td>{}</td><td>{} / {}</td><td>{evidence}</td></tr>",
                h.level.as_str(),
                esc(&h.rule_id),
                or_dash(&e.eventtime),
                level_badge(h.level),
                esc(&h.title),
                h.author
                    .as_deref()
                    .map_or_else(String::new, |a| format!("by {}", esc(a))),
                or_dash(&e.eventname),
                or_dash(&e.eventsource),
                or_dash(&e.sourceipaddress),
                or_dash(&e.account_id),
                or_dash(&e.region),
            );
        }
        out.push_str("</table></details>\n");
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::run::Event;

    fn hit(time: &str, who: &str, level: Level, agent: &str) -> Hit {
        Hit {
            rule_id: "r1".into(),
            title: "<b>rule</b>".into(),
            level,
            status: None,
            author: Some("a&b".into()),
            tags: vec!["attack.persistence".into(), "attack.t1098".into()],
            first: Event {
                eventtime: Some(time.into()),
                eventname: Some("CreateUser".into()),
                eventsource: None,
                principal: Some(who.into()),
                sourceipaddress: None,
                useragent: Some(agent.into()),
                account_id: None,
                region: None,
                eventid: Some("e".into()),
                log_file: None,
                matched_rule: None,
            },
            events: Vec::new(),
            group: Vec::new(),
        }
    }

    #[test]
    fn bursts_split_on_gaps_per_principal_and_text_is_escaped() {
        let hits = vec![
            hit("2026-01-01T10:00:00Z", "arn:a", Level::High, "x"),
            hit("2026-01-01T10:20:00Z", "arn:a", Level::Low, "x"),
            hit("2026-01-01T11:30:00Z", "arn:a", Level::Low, "x"),
            hit("2026-01-01T10:05:00Z", "<script>", Level::Low, "x"),
        ];
        let b = bursts(&hits);
        assert_eq!(
            b.iter().map(|(_, l)| l.len()).collect::<Vec<_>>(),
            [2, 1, 1]
        );
        let page = render(&hits, &PageContext::default());
        assert!(!page.contains("<script>\"") && page.contains("&lt;script&gt;"));
        assert!(page.contains("&lt;b&gt;rule&lt;/b&gt;") && page.contains("by a&amp;b"));
        assert_eq!(tactics(&hits[0].tags), ["persistence"]);
        assert_eq!(render(&hits, &PageContext::default()), page, "no clock");
    }
}
