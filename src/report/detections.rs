//! The report's detections: the period's hits of the Sigma rules (trailscope's pack, or the
//! user's `--rules`), summarised: counts by level, ATT&CK tactic and rule, and for each rule when
//! it fired first and last, whom and which accounts it concerns, and its first hits with their
//! evidence (event id and log file). A month of a busy archive has tens of thousands of hits; the
//! report points at `trailscope detect` for every one of them rather than listing them. The rules
//! read the period's shared scan, like the controls.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::detect::{Hit, Level, Outcome, RuleSet, rule::tactics};

/// Hits shown per rule, the earliest first.
pub const EVIDENCE_PER_RULE: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionsSection {
    /// `N rules loaded, K skipped, F failed`.
    pub rules: String,
    pub rules_run: usize,
    /// Rules the compiler could not express, files that are not rules, rules that failed to
    /// run: (rule or file, reason).
    pub not_run: Vec<NotRun>,
    /// Detections in all (a correlation's burst is one).
    // Defaults let an earlier report, which listed every hit instead, serve as a `--baseline`.
    #[serde(default)]
    pub detections: usize,
    /// Detections per level, for every level.
    pub by_level: BTreeMap<String, usize>,
    /// Detections per ATT&CK tactic of their rule's tags (a rule with two tactics counts in both).
    #[serde(default)]
    pub by_tactic: BTreeMap<String, usize>,
    /// Each rule that fired, most severe first.
    pub by_rule: Vec<RuleSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotRun {
    pub rule: String,
    /// `skipped`, `failed` (not a rule) or `error` (did not run).
    pub class: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSummary {
    pub rule_id: String,
    pub title: String,
    pub level: String,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub detections: usize,
    /// Its earliest and latest hit's time.
    #[serde(default)]
    pub first_seen: Option<String>,
    #[serde(default)]
    pub last_seen: Option<String>,
    /// Distinct principals and accounts among its hits' events.
    #[serde(default)]
    pub principals: usize,
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Its first [`EVIDENCE_PER_RULE`] hits in time order.
    #[serde(default)]
    pub evidence: Vec<DetectionEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionEntry {
    pub eventtime: Option<String>,
    pub principal: Option<String>,
    pub eventname: Option<String>,
    pub sourceipaddress: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// The (first) event's id and log file: the evidence to open.
    pub eventid: Option<String>,
    pub log_file: Option<String>,
    /// Events in the hit (a correlation's; 1 otherwise).
    pub event_count: usize,
}

pub fn section(set: &RuleSet, outcome: &Outcome) -> DetectionsSection {
    let mut not_run = Vec::new();
    for (rule, reason) in &set.skipped {
        not_run.push(NotRun {
            rule: rule.clone(),
            class: "skipped".into(),
            reason: reason.clone(),
        });
    }
    for (file, reason) in &set.failed {
        not_run.push(NotRun {
            rule: file.clone(),
            class: "failed".into(),
            reason: reason.clone(),
        });
    }
    for (rule, reason) in &outcome.errors {
        not_run.push(NotRun {
            rule: rule.clone(),
            class: "error".into(),
            reason: reason.clone(),
        });
    }
    let mut by_level: BTreeMap<String, usize> = Level::ALL
        .iter()
        .map(|l| (l.as_str().to_string(), 0))
        .collect();
    let mut by_tactic: BTreeMap<String, usize> = BTreeMap::new();
    // Hits arrive in time order, so a rule's first hits are its earliest.
    let mut by_rule: BTreeMap<(std::cmp::Reverse<Level>, String), Tally> = BTreeMap::new();
    for h in &outcome.hits {
        *by_level.entry(h.level.as_str().to_string()).or_default() += 1;
        for tactic in tactics(&h.tags) {
            *by_tactic.entry(tactic).or_default() += 1;
        }
        by_rule
            .entry((std::cmp::Reverse(h.level), h.rule_id.clone()))
            .or_insert_with(|| Tally::new(h))
            .add(h);
    }
    DetectionsSection {
        rules: set.summary(),
        rules_run: set.runnable_count(),
        not_run,
        detections: outcome.hits.len(),
        by_level,
        by_tactic,
        by_rule: by_rule.into_values().map(Tally::summary).collect(),
    }
}

/// One rule's hits as they are counted.
struct Tally {
    summary: RuleSummary,
    principals: BTreeSet<String>,
    accounts: BTreeSet<String>,
}

impl Tally {
    fn new(h: &Hit) -> Tally {
        Tally {
            summary: RuleSummary {
                rule_id: h.rule_id.clone(),
                title: h.title.clone(),
                level: h.level.as_str().to_string(),
                author: h.author.clone(),
                tags: h.tags.clone(),
                detections: 0,
                first_seen: h.first.eventtime.clone(),
                last_seen: None,
                principals: 0,
                accounts: Vec::new(),
                evidence: Vec::new(),
            },
            principals: BTreeSet::new(),
            accounts: BTreeSet::new(),
        }
    }

    fn add(&mut self, h: &Hit) {
        let s = &mut self.summary;
        s.detections += 1;
        // A correlation's hit spans its events; the latest of them is when it last fired.
        let last = h.events.last().unwrap_or(&h.first);
        if last.eventtime > s.last_seen {
            s.last_seen = last.eventtime.clone();
        }
        for e in std::iter::once(&h.first).chain(&h.events) {
            if let Some(p) = &e.principal {
                self.principals.insert(p.clone());
            }
            if let Some(a) = &e.account_id {
                self.accounts.insert(a.clone());
            }
        }
        if s.evidence.len() < EVIDENCE_PER_RULE {
            s.evidence.push(DetectionEntry {
                eventtime: h.first.eventtime.clone(),
                principal: h.first.principal.clone(),
                eventname: h.first.eventname.clone(),
                sourceipaddress: h.first.sourceipaddress.clone(),
                account_id: h.first.account_id.clone(),
                region: h.first.region.clone(),
                eventid: h.first.eventid.clone(),
                log_file: h.first.log_file.clone(),
                event_count: h.events.len().max(1),
            });
        }
    }

    fn summary(self) -> RuleSummary {
        RuleSummary {
            principals: self.principals.len(),
            accounts: self.accounts.into_iter().collect(),
            ..self.summary
        }
    }
}

/// The command that lists every detection of a report's period, with all of a correlation's
/// events (the report shows each rule's first few).
pub fn every_detection_command(archive: &str, period: &super::Period) -> String {
    let time = |t: &chrono::DateTime<chrono::Utc>| {
        if t.time() == chrono::NaiveTime::MIN {
            t.format("%Y-%m-%d").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }
    };
    format!(
        "trailscope detect -a {} --from {} --to {} --format jsonl",
        shell_word(archive),
        time(&period.from),
        time(&period.to)
    )
}

/// `text` as one POSIX shell word.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:+=@,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_for_every_detection_is_one_shell_word_per_argument() {
        let period = super::super::Period::parse("2026-10").expect("a month");
        assert_eq!(
            every_detection_command("s3://trail/AWSLogs", &period),
            "trailscope detect -a s3://trail/AWSLogs --from 2026-10-01 --to 2026-11-01 --format jsonl"
        );
        assert!(
            every_detection_command("my logs/it's", &period)
                .contains("-a 'my logs/it'\\''s' --from")
        );
    }

    #[test]
    fn an_earlier_report_that_listed_every_hit_still_reads() {
        // The shape `report --detections` wrote before the section summarised, as a --baseline.
        let earlier = serde_json::json!({
            "rules": "1 rules loaded, 0 skipped, 0 failed", "rules_run": 1, "not_run": [],
            "by_level": {"high": 1},
            "by_rule": [{"rule_id": "r", "title": "R", "level": "high", "author": null,
                "tags": [], "detections": 1}],
            "hits": [{"eventtime": "2026-10-01T00:00:00Z", "level": "high", "rule_id": "r",
                "title": "R", "eventid": "e", "log_file": "f", "event_count": 1}]
        });
        let section: DetectionsSection =
            serde_json::from_value(earlier).expect("the earlier shape reads");
        assert_eq!(section.by_rule[0].detections, 1);
        assert!(section.by_rule[0].evidence.is_empty());
    }
}
