//! `trace --format html`: one self-contained page for a trace. The origin and its chain, the
//! tree of credentials (each derived one under the one that issued it), what was done (counts),
//! and the timeline of every event with its log file. Clicking a credential in the tree (or
//! `#key=ASIA…` in the address) shows only the events made with it and with what it issued;
//! without script everything shows.
//!
//! Every value from the archive is attacker-controlled and goes through [`esc`]. No clock, no
//! fetches: the same trace renders to the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Trace, TracedCredential};
use crate::output::html::esc;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}.meta{color:#566}\
table{border-collapse:collapse;margin:4px 0 12px}td,th{border-bottom:1px solid #dde;\
padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f5f9}.n{text-align:right}\
code{font-size:12px;word-break:break-all}ul.tree{list-style:none;padding-left:18px}\
ul.tree li{margin:3px 0}a.key{font-family:monospace;cursor:pointer}a.key.on{background:#ffe9a8}\
.broken{color:#a11}.err{color:#a11}.counts{display:flex;flex-wrap:wrap;gap:16px}\
@media print{a.key{color:inherit}}";

const SCRIPT: &str = r#"(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr.event'));
  var keys = Array.prototype.slice.call(document.querySelectorAll('a.key'));
  function below(key) {
    var out = {};
    keys.forEach(function (k) {
      if (k.dataset.key === key) {
        out[key] = true;
        k.parentNode.querySelectorAll('a.key').forEach(function (d) { out[d.dataset.key] = true; });
      }
    });
    return out;
  }
  function show(key) {
    var wanted = key ? below(key) : null;
    var shown = 0;
    rows.forEach(function (r) {
      var keep = !wanted || wanted[r.dataset.key] === true;
      r.hidden = !keep;
      if (keep) { shown += 1; }
    });
    keys.forEach(function (k) { k.classList.toggle('on', k.dataset.key === key); });
    document.getElementById('shown').textContent = shown;
  }
  keys.forEach(function (k) {
    k.addEventListener('click', function (e) {
      e.preventDefault();
      location.hash = 'key=' + k.dataset.key;
      show(k.dataset.key);
    });
  });
  var hash = new URLSearchParams(location.hash.slice(1));
  show(hash.get('key') || '');
})();"#;

fn or_dash(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "-".to_string(), esc)
}

/// The page for `trace`.
pub fn render(trace: &Trace) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>trailscope trace: {start}</title><style>{STYLE}</style></head><body>\n\
         <h1>Trace of {start}</h1>\n",
        start = esc(&trace.start)
    );
    origin_section(&mut out, trace);
    tree_section(&mut out, trace);
    counts_section(&mut out, trace);
    events_section(&mut out, trace);
    if !trace.enrichment.is_empty() {
        out.push_str("<h2>Enrichment files</h2>\n<ul id=\"enrichment\">\n");
        for f in &trace.enrichment {
            let _ = writeln!(
                out,
                "<li>{} <code>{}</code> ({}, built {}, sha256 <code>{}</code>)</li>",
                esc(&f.role),
                esc(&f.path),
                esc(&f.about),
                or_dash(&f.built),
                esc(&f.sha256)
            );
        }
        out.push_str("</ul>\n");
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

fn origin_section(out: &mut String, trace: &Trace) {
    let Some(origin) = &trace.origin else {
        return;
    };
    let _ = write!(
        out,
        "<h2>Origin</h2>\n<p id=\"origin\" data-kind=\"{kind}\">{kind}: <code>{who}</code>{key} \
         (depth {depth})</p>\n",
        kind = origin.kind.as_str(),
        who = or_dash(&origin.principal),
        key = origin
            .access_key
            .as_deref()
            .map(|k| format!(" with <code>{}</code>", esc(k)))
            .unwrap_or_default(),
        depth = origin.depth,
    );
    if let Some(why) = &origin.broken {
        let _ = writeln!(
            out,
            "<p class=\"broken\">The chain is broken: {}</p>",
            esc(why)
        );
    }
    if !origin.chain.is_empty() {
        out.push_str(
            "<table><tr><th>credential</th><th>issued via</th><th>session</th><th>by</th>\
             <th>at</th><th>log file</th></tr>\n",
        );
        for link in &origin.chain {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&link.access_key_id),
                esc(&link.issued_via),
                or_dash(&link.session_arn),
                or_dash(&link.issuer),
                or_dash(&link.issued_at),
                or_dash(&link.log_file),
            );
        }
        out.push_str("</table>\n");
    }
}

/// Credentials nested under the one that issued them (the trace lists them by depth).
fn tree_section(out: &mut String, trace: &Trace) {
    let _ = writeln!(
        out,
        "<h2>Credentials ({})</h2>\n<p class=\"meta\">Click one to see only the events made \
         with it and with what it issued.</p>",
        trace.credentials.len()
    );
    let in_trace: BTreeMap<&str, &TracedCredential> = trace
        .credentials
        .iter()
        .map(|c| (c.credential.access_key_id.as_str(), c))
        .collect();
    let mut children: BTreeMap<&str, Vec<&TracedCredential>> = BTreeMap::new();
    let mut tops: Vec<&str> = trace.keys.iter().map(String::as_str).collect();
    for c in &trace.credentials {
        match c.credential.issuer_access_key.as_deref() {
            Some(parent)
                if in_trace.contains_key(parent) || trace.keys.iter().any(|k| k == parent) =>
            {
                children.entry(parent).or_default().push(c)
            }
            _ => {
                if !tops.contains(&c.credential.access_key_id.as_str()) {
                    tops.push(&c.credential.access_key_id);
                }
            }
        }
    }
    out.push_str("<ul class=\"tree\" id=\"tree\">\n");
    let mut seen = Vec::new();
    for top in tops {
        node(out, top, in_trace.get(top).copied(), &children, &mut seen);
    }
    out.push_str("</ul>\n");
}

fn node<'a>(
    out: &mut String,
    key: &'a str,
    credential: Option<&TracedCredential>,
    children: &BTreeMap<&'a str, Vec<&'a TracedCredential>>,
    seen: &mut Vec<&'a str>,
) {
    if seen.contains(&key) {
        return;
    }
    seen.push(key);
    let _ = write!(
        out,
        "<li><a class=\"key\" href=\"#key={k}\" data-key=\"{k}\">{k}</a>",
        k = esc(key)
    );
    if let Some(c) = credential {
        let cred = &c.credential;
        let _ = write!(
            out,
            " {} <code>{}</code> at {} by <code>{}</code>, {} events",
            esc(&cred.issued_via),
            or_dash(&cred.session_arn),
            or_dash(&cred.issued_at),
            or_dash(&cred.issuer),
            c.events
        );
    }
    if let Some(kids) = children.get(key) {
        out.push_str("\n<ul class=\"tree\">\n");
        for kid in kids {
            node(
                out,
                &kid.credential.access_key_id,
                Some(kid),
                children,
                seen,
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>\n");
}

fn counts_section(out: &mut String, trace: &Trace) {
    let s = &trace.summary;
    let _ = writeln!(
        out,
        "<h2>What was done</h2>\n<p>{} events, {} errors, {} to {}</p>\n<div class=\"counts\">",
        s.events,
        s.errors,
        or_dash(&s.first_seen),
        or_dash(&s.last_seen)
    );
    for (title, counts) in [
        ("Accounts", &s.by_account),
        ("Services", &s.by_service),
        ("Events", &s.by_event),
        ("Errors", &s.by_error),
        ("Source IPs", &s.source_ips),
        ("User agents", &s.user_agents),
        ("Resources written", &s.resources_written),
    ] {
        if counts.is_empty() {
            continue;
        }
        let mut top: Vec<(&String, &usize)> = counts.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(
            out,
            "<table><tr><th>{title}</th><th class=\"n\">n</th></tr>"
        );
        for (name, n) in top.iter().take(25) {
            let details = trace
                .source_ip_details
                .get(name.as_str())
                .map(|d| d.describe())
                .filter(|d| !d.is_empty())
                .map(|d| format!(" <span class=\"meta\">{}</span>", esc(&d)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code>{details}</td><td class=\"n\">{n}</td></tr>",
                esc(name)
            );
        }
        if top.len() > 25 {
            let _ = writeln!(
                out,
                "<tr><td>and {} more</td><td></td></tr>",
                top.len() - 25
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</div>\n");
}

fn events_section(out: &mut String, trace: &Trace) {
    let _ = writeln!(
        out,
        "<h2>Events (<span id=\"shown\">{}</span> of {})</h2>\n<table id=\"events\"><tr><th>time</th>\
         <th>account</th><th>credential</th><th>event</th><th>error</th><th>source IP</th>\
         <th>principal</th><th>log file</th></tr>",
        trace.actions.len(),
        trace.actions.len()
    );
    for a in &trace.actions {
        let _ = writeln!(
            out,
            "<tr class=\"event\" data-key=\"{key}\"><td>{}</td><td>{}</td><td><code>{key}</code></td>\
             <td>{}:{}</td><td class=\"err\">{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            or_dash(&a.eventtime),
            or_dash(&a.account_id),
            or_dash(&a.eventsource),
            or_dash(&a.eventname),
            a.errorcode.as_deref().map(esc).unwrap_or_default(),
            or_dash(&a.sourceipaddress),
            or_dash(&a.principal),
            or_dash(&a.log_file),
            key = or_dash(&a.access_key_id),
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::read::Action;
    use crate::trace::summarize;

    #[test]
    fn archive_text_is_escaped_and_the_page_has_no_clock() {
        let action = Action {
            eventtime: Some("2026-10-01T10:00:00Z".into()),
            account_id: Some("111111111111".into()),
            region: None,
            eventsource: Some("s3.amazonaws.com".into()),
            eventname: Some("<img src=x onerror=alert(1)>".into()),
            errorcode: None,
            access_key_id: Some("AKIA\"><script>".into()),
            principal: Some("arn:aws:iam::1:user/<b>".into()),
            sourceipaddress: None,
            useragent: None,
            read_only: false,
            resources: vec!["arn:aws:s3:::<bucket>".into()],
            eventid: None,
            log_file: None,
        };
        let trace = Trace {
            start: "access key <x>".into(),
            keys: vec!["AKIA\"><script>".into()],
            origin: None,
            credentials: Vec::new(),
            summary: summarize(std::slice::from_ref(&action)),
            actions: vec![action],
            source_ip_details: BTreeMap::new(),
            enrichment: Vec::new(),
        };
        let page = render(&trace);
        assert!(!page.contains("<img") && !page.contains("<b>") && !page.contains("\"><script>"));
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert_eq!(page.matches("<script>").count(), 1, "only our own script");
        assert_eq!(render(&trace), page);
    }
}
