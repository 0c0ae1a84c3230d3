//! Rules in: trailscope's own pack (`queries/detections/`, embedded at build time) and users'
//! folders or files of Sigma rules (a clone of SigmaHQ/sigma, a Suzaku checkout). Every `.yml`
//! whose log source is aws/cloudtrail is read; each is compiled, skipped with a reason, or failed
//! with a reason, and the counts are what `detect` prints at load.

use std::path::{Path, PathBuf};

use super::compile::detection_sql;
use super::correlate::{Correlated, Spec, correlation_sql};
use super::matches::{Selection, Source, Stages};
use super::rule::{Body, CorrelationType, CountCondition, Level, Rule, parse_file};
use crate::error::{Error, Result};

static BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_detections.rs"));

/// A rule ready to run: its query returns the events of its hits (see [`super::run`]).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rule: Rule,
    /// The rule's query over the archive's `cloudtrail` (what `--show-sql` prints).
    pub sql: String,
    /// What it selects of each event: one selection for a plain rule, one per correlated rule
    /// for a correlation (its `matched` stage).
    pub selections: Vec<Selection>,
    /// A correlation's (or aggregation's) stages after `matched`: rows sharing `group_*` and
    /// `burst` are one hit.
    pub stages: Option<Stages>,
    /// A correlation's group-by fields as the rule names them, in `group_n` order.
    pub group_by: Vec<String>,
}

impl Compiled {
    fn new(
        rule: Rule,
        selections: Vec<Selection>,
        stages: Option<Stages>,
        group_by: Vec<String>,
    ) -> Compiled {
        let mut compiled = Compiled {
            rule,
            sql: String::new(),
            selections,
            stages,
            group_by,
        };
        compiled.sql = compiled.sql_over(&Source::Archive);
        compiled
    }

    /// A correlation (or aggregation), whose hits are bursts of events.
    pub fn is_correlation(&self) -> bool {
        self.stages.is_some()
    }

    /// The rule's query reading events from `source`.
    pub fn sql_over(&self, source: &Source) -> String {
        match &self.stages {
            Some(stages) => stages.sql(&self.selections, source),
            None => self
                .selections
                .iter()
                .map(|s| s.sql(source))
                .collect::<Vec<_>>()
                .join("\nUNION ALL\n"),
        }
    }
}

/// What loading found.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub compiled: Vec<Compiled>,
    /// Valid Sigma the compiler cannot express: (rule, reason). Never run, never half-run.
    pub skipped: Vec<(String, String)>,
    /// Not readable as a Sigma rule: (where, reason).
    pub failed: Vec<(String, String)>,
    /// Rules for other log sources, left alone.
    pub other_sources: usize,
    /// Rules only correlations use (`generate: false`): compiled, not reported on their own.
    pub correlated_only: Vec<String>,
}

impl RuleSet {
    /// The rules to run: all compiled ones but those only correlations use.
    pub fn runnable(&self) -> Vec<Compiled> {
        self.compiled
            .iter()
            .filter(|c| self.runs_alone(c))
            .cloned()
            .collect()
    }

    /// How many rules [`Self::runnable`] gives.
    pub fn runnable_count(&self) -> usize {
        self.compiled.iter().filter(|c| self.runs_alone(c)).count()
    }

    fn runs_alone(&self, c: &Compiled) -> bool {
        !self.correlated_only.iter().any(|r| c.rule.answers_to(r))
    }

    /// `N rules loaded, K skipped, F failed`.
    pub fn summary(&self) -> String {
        format!(
            "{} rules loaded, {} skipped, {} failed",
            self.compiled.len(),
            self.skipped.len(),
            self.failed.len()
        )
    }
}

/// The pack shipped with trailscope, as (origin, text).
pub fn builtin_files() -> Vec<(String, String)> {
    BUILTIN
        .iter()
        .map(|(rel, text)| (format!("builtin:{rel}"), text.to_string()))
        .collect()
}

/// The rule files to load: trailscope's pack (with `builtin`) and every file under `paths`.
pub fn gather(builtin: bool, paths: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let mut files = if builtin { builtin_files() } else { Vec::new() };
    for path in paths {
        files.extend(files_at(path)?);
    }
    Ok(files)
}

/// Every `.yml`/`.yaml` file at or under `path`, as (path, text), in path order.
pub fn files_at(path: &Path) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    if path.is_file() {
        found.push(path.to_path_buf());
    } else if path.is_dir() {
        collect(path, &mut found)?;
    } else {
        return Err(Error::usage(format!(
            "--rules {}: no such file or folder; give a Sigma rule file or a folder of them (e.g. a clone of SigmaHQ/sigma)",
            path.display()
        )));
    }
    found.sort();
    found
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| Error::io(p.display(), e))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir.display(), e))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads and compiles `files` (origin, text).
pub fn load(files: &[(String, String)]) -> RuleSet {
    let mut set = RuleSet::default();
    let mut rules = Vec::new();
    for (origin, text) in files {
        for parsed in parse_file(origin, text) {
            match parsed {
                Ok(rule) if rule.is_cloudtrail() => rules.push(rule),
                Ok(_) => set.other_sources += 1,
                Err(reason) => set.failed.push((origin.clone(), reason)),
            }
        }
    }
    // A rule a correlation names is compiled for it; it reports on its own only when the
    // correlation says `generate: true`.
    for rule in &rules {
        if let Body::Correlation(c) = &rule.body
            && !c.generate
        {
            for r in &c.rules {
                set.correlated_only.push(r.clone());
            }
        }
    }
    for rule in &rules {
        match compile(rule, &rules) {
            Ok((selections, stages, group_by)) => {
                set.compiled
                    .push(Compiled::new(rule.clone(), selections, stages, group_by))
            }
            Err(reason) => set.skipped.push((describe(rule), reason)),
        }
    }
    set
}

fn describe(rule: &Rule) -> String {
    format!("{} ({})", rule.title, rule.origin)
}

/// What a rule selects, a correlation's stages after `matched`, and its group-by fields.
type Parts = (Vec<Selection>, Option<Stages>, Vec<String>);

/// A rule's parts (see [`Compiled`]).
fn compile(rule: &Rule, all: &[Rule]) -> std::result::Result<Parts, String> {
    match &rule.body {
        Body::Detection(d) => {
            let (condition, aggregation) = detection_sql(d)?;
            let Some(agg) = aggregation else {
                let plain = Selection {
                    condition,
                    values: Vec::new(),
                    rule_key: None,
                };
                return Ok((vec![plain], None, Vec::new()));
            };
            let timespan = d
                .timeframe
                .as_deref()
                .ok_or("an aggregation (| count() ...) needs timeframe")?;
            let (kind, field) = match &agg.field {
                Some(f) => (CorrelationType::ValueCount, Some(f.clone())),
                None => (CorrelationType::EventCount, None),
            };
            let group_by: Vec<String> = agg.group_by.into_iter().collect();
            let spec = Spec {
                kind,
                rules: vec![Correlated { rule, condition }],
                group_by: group_by.clone(),
                aliases: &[],
                timespan,
                condition: Some(CountCondition {
                    bounds: vec![(agg.op, agg.bound)],
                    field,
                }),
            };
            let (selections, stages) = correlation_sql(&spec)?;
            Ok((selections, Some(stages), group_by))
        }
        Body::Correlation(c) => {
            let mut correlated = Vec::new();
            for reference in &c.rules {
                let base = all
                    .iter()
                    .find(|r| r.answers_to(reference))
                    .ok_or_else(|| {
                        format!("the correlated rule {reference} is not among the rules loaded")
                    })?;
                let Body::Detection(d) = &base.body else {
                    return Err(format!(
                        "{reference} is a correlation; correlations of correlations are not compiled"
                    ));
                };
                let (condition, aggregation) = detection_sql(d)
                    .map_err(|e| format!("the correlated rule {reference}: {e}"))?;
                if aggregation.is_some() {
                    return Err(format!(
                        "the correlated rule {reference} has an aggregation"
                    ));
                }
                correlated.push(Correlated {
                    rule: base,
                    condition,
                });
            }
            let spec = Spec {
                kind: c.kind,
                rules: correlated,
                group_by: c.group_by.clone(),
                aliases: &c.aliases,
                timespan: &c.timespan,
                condition: c.condition.clone(),
            };
            let (selections, stages) = correlation_sql(&spec)?;
            Ok((selections, Some(stages), c.group_by.clone()))
        }
    }
}

/// Which rules run: at or above `min_level`, of one of `statuses` (all if empty), carrying one
/// of `tags` (all if empty; a tag matches itself and its sub-techniques, `attack.t1562` takes
/// `attack.t1562.008`).
pub fn select(set: &mut RuleSet, min_level: Level, statuses: &[String], tags: &[String]) {
    set.compiled.retain(|c| {
        let rule = &c.rule;
        let status_ok = statuses.is_empty()
            || rule
                .status
                .as_deref()
                .is_some_and(|s| statuses.iter().any(|w| w.eq_ignore_ascii_case(s)));
        let tag_ok = tags.is_empty()
            || rule.tags.iter().any(|t| {
                tags.iter().any(|w| {
                    let (t, w) = (t.to_ascii_lowercase(), w.to_ascii_lowercase());
                    t == w || t.starts_with(&format!("{w}."))
                })
            });
        rule.level >= min_level && status_ok && tag_ok
    });
}

/// The SQL a rule compiles to, for `--show-sql` (by id, name or title).
pub fn show_sql(set: &RuleSet, wanted: &str) -> Option<String> {
    set.compiled
        .iter()
        .find(|c| c.rule.answers_to(wanted) || c.rule.title.eq_ignore_ascii_case(wanted))
        .map(|c| format!("-- {} ({})\n{};", c.rule.title, c.rule.origin, c.sql))
}
