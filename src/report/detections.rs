//! The report's detections: the period's hits of the Sigma rules (trailscope's pack, or the
//! user's `--rules`), counted by rule and level, each hit with its evidence (event id and log
//! file). The rules read the period's shared scan, like the controls.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::detect::{Outcome, RuleSet};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionsSection {
    /// `N rules loaded, K skipped, F failed`.
    pub rules: String,
    pub rules_run: usize,
    /// Rules the compiler could not express, files that are not rules, rules that failed to
    /// run: (rule or file, reason).
    pub not_run: Vec<NotRun>,
    /// Hits per level, for every level.
    pub by_level: BTreeMap<String, usize>,
    /// Hits per rule, most severe first.
    pub by_rule: Vec<RuleCount>,
    /// Every hit, in time order.
    pub hits: Vec<DetectionEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotRun {
    pub rule: String,
    /// `skipped`, `failed` (not a rule) or `error` (did not run).
    pub class: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCount {
    pub rule_id: String,
    pub title: String,
    pub level: String,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub detections: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionEntry {
    pub eventtime: Option<String>,
    pub level: String,
    pub rule_id: String,
    pub title: String,
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
    let mut by_level: BTreeMap<String, usize> = crate::detect::Level::ALL
        .iter()
        .map(|l| (l.as_str().to_string(), 0))
        .collect();
    let mut by_rule: BTreeMap<(std::cmp::Reverse<crate::detect::Level>, String), RuleCount> =
        BTreeMap::new();
    for h in &outcome.hits {
        *by_level.entry(h.level.as_str().to_string()).or_default() += 1;
        by_rule
            .entry((std::cmp::Reverse(h.level), h.rule_id.clone()))
            .or_insert_with(|| RuleCount {
                rule_id: h.rule_id.clone(),
                title: h.title.clone(),
                level: h.level.as_str().to_string(),
                author: h.author.clone(),
                tags: h.tags.clone(),
                detections: 0,
            })
            .detections += 1;
    }
    let hits = outcome
        .hits
        .iter()
        .map(|h| DetectionEntry {
            eventtime: h.first.eventtime.clone(),
            level: h.level.as_str().to_string(),
            rule_id: h.rule_id.clone(),
            title: h.title.clone(),
            principal: h.first.principal.clone(),
            eventname: h.first.eventname.clone(),
            sourceipaddress: h.first.sourceipaddress.clone(),
            account_id: h.first.account_id.clone(),
            region: h.first.region.clone(),
            eventid: h.first.eventid.clone(),
            log_file: h.first.log_file.clone(),
            event_count: h.events.len().max(1),
        })
        .collect();
    DetectionsSection {
        rules: set.summary(),
        rules_run: set.runnable_count(),
        not_run,
        by_level,
        by_rule: by_rule.into_values().collect(),
        hits,
    }
}
