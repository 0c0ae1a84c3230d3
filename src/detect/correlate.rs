//! Correlations compiled to windowed SQL: Sigma's correlation rules (`event_count`,
//! `value_count`, `temporal`, `temporal_ordered`, with `group-by` and `timespan`) and the older
//! `| count(field) by group > N` with `timeframe`.
//!
//! One query per correlation, in stages:
//! 1. `matched`: the events of the correlated rules, each with its group values and rule;
//! 2. `ends`: the events that close a window (of `timespan`, within one group) meeting the
//!    condition: a sliding `count(*)` for event counts, a linear sweep over presence spans for
//!    distinct values and rules, a chain of windowed maxima for rules in order;
//! 3. `members`: every event inside some such window;
//! 4. `bursts`: members split where two consecutive ones are more than `timespan` apart.
//!
//! Each burst is one hit, and the query returns its events (the columns of a plain rule, plus
//! `group_1..n` and `burst`), so a hit lists the events it is made of. Over the pass's matched
//! events ([`super::matches`]) the stages carry only each event's row, time and id, and the
//! members' event columns are joined back at the end.

use super::compile::{Refusal, quote};
use super::fields::resolve;
use super::matches::{Selection, Stages};
use super::rule::{CorrelationType, CountCondition, Rule};
use super::windows::{Measure, Window};

/// One correlated rule: its key (as hits name it) and its compiled condition.
pub struct Correlated<'a> {
    pub rule: &'a Rule,
    pub condition: String,
}

/// What the correlation counts and how.
pub struct Spec<'a> {
    pub kind: CorrelationType,
    pub rules: Vec<Correlated<'a>>,
    /// Field names as the rules write them; `aliases` may rename per rule.
    pub group_by: Vec<String>,
    pub aliases: &'a [(String, Vec<(String, String)>)],
    pub timespan: &'a str,
    pub condition: Option<CountCondition>,
}

fn field_for(spec: &Spec, rule: &Rule, name: &str) -> String {
    let renamed = spec
        .aliases
        .iter()
        .find(|(alias, _)| alias == name)
        .and_then(|(_, per_rule)| {
            per_rule
                .iter()
                .find(|(r, _)| rule.answers_to(r))
                .map(|(_, f)| f.clone())
        });
    resolve(renamed.as_deref().unwrap_or(name)).value_sql()
}

fn bound_sql(subject: &str, condition: &CountCondition) -> String {
    condition
        .bounds
        .iter()
        .map(|(op, n)| {
            let symbol = match op.as_str() {
                "gt" => ">",
                "gte" => ">=",
                "lt" => "<",
                "lte" => "<=",
                "neq" => "<>",
                _ => "=",
            };
            format!("{subject} {symbol} {n}")
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The correlation's selections (one per correlated rule: its events, group values and rule,
/// the `matched` stage) and the stages after `matched`, up to `bursts`.
pub fn correlation_sql(spec: &Spec) -> Result<(Vec<Selection>, Stages), Refusal> {
    let span = crate::time::parse_duration(spec.timespan)
        .map_err(|e| format!("timespan: {e}"))?
        .num_seconds();
    if span <= 0 {
        return Err("timespan must be longer than zero".to_string());
    }
    let interval = format!("INTERVAL '{span} seconds'");
    let groups: Vec<String> = (1..=spec.group_by.len())
        .map(|i| format!("group_{i}"))
        .collect();
    let counted_field = match spec.kind {
        CorrelationType::ValueCount => Some(
            spec.condition
                .as_ref()
                .and_then(|c| c.field.clone())
                .ok_or("value_count needs condition.field, the field whose values are counted")?,
        ),
        _ => None,
    };
    let mut selections = Vec::new();
    for c in &spec.rules {
        let mut values: Vec<(String, String)> = spec
            .group_by
            .iter()
            .zip(&groups)
            .map(|(name, alias)| (field_for(spec, c.rule, name), alias.clone()))
            .collect();
        if let Some(field) = &counted_field {
            values.push((field_for(spec, c.rule, field), "counted_value".into()));
        }
        selections.push(Selection {
            condition: c.condition.clone(),
            values,
            rule_key: Some(c.rule.key().to_string()),
        });
    }
    let partition = if groups.is_empty() {
        String::new()
    } else {
        format!("PARTITION BY {} ", groups.join(", "))
    };
    let ends = match spec.kind {
        CorrelationType::EventCount => {
            let condition = spec
                .condition
                .as_ref()
                .ok_or("event_count needs a condition such as gte: 10")?;
            format!(
                "counted AS (\n  SELECT *, count(*) OVER ({partition}ORDER BY eventtime RANGE BETWEEN {interval} PRECEDING AND CURRENT ROW) AS measure\n  FROM matched\n),\nends AS (\n  SELECT DISTINCT {select_groups}eventtime AS window_end FROM counted WHERE {bound}\n)",
                select_groups = list(&groups, ""),
                bound = bound_sql("measure", condition),
            )
        }
        CorrelationType::ValueCount => {
            let condition = spec
                .condition
                .as_ref()
                .ok_or("value_count needs a condition")?;
            distinct_sweep(
                "counted_value",
                &groups,
                &interval,
                &bound_sql("measure", condition),
            )
        }
        CorrelationType::Temporal => distinct_sweep(
            "matched_rule",
            &groups,
            &interval,
            &format!("measure = {}", spec.rules.len()),
        ),
        CorrelationType::TemporalOrdered => ordered_chain(spec, &groups, &partition, &interval),
    };
    let flagged_join = format!(
        "LEFT JOIN ends w ON w.window_end = m.eventtime{}",
        groups
            .iter()
            .map(|g| format!(" AND (w.{g} IS NOT DISTINCT FROM m.{g})"))
            .collect::<String>()
    );
    let stages = format!(
        "{ends},\nflagged AS (\n  SELECT m.*, w.window_end FROM matched m {flagged_join}\n),\nmembers AS (\n  SELECT * FROM (\n    SELECT *, max(window_end) OVER ({partition}ORDER BY eventtime RANGE BETWEEN CURRENT ROW AND {interval} FOLLOWING) AS covered_until\n    FROM flagged\n  ) WHERE covered_until IS NOT NULL\n),\nstarts AS (\n  SELECT *, CASE WHEN lag(eventtime) OVER ({partition}ORDER BY eventtime, eventid) >= eventtime - {interval} THEN 0 ELSE 1 END AS starts_burst\n  FROM members\n),\nbursts AS (\n  SELECT *, sum(starts_burst) OVER ({partition}ORDER BY eventtime, eventid ROWS UNBOUNDED PRECEDING) AS burst\n  FROM starts\n)",
    );
    let measure = match spec.kind {
        CorrelationType::EventCount => Some(Measure::Events),
        CorrelationType::ValueCount => Some(Measure::Distinct("counted_value")),
        CorrelationType::Temporal => Some(Measure::Distinct("matched_rule")),
        CorrelationType::TemporalOrdered => None,
    };
    let bounds = match spec.kind {
        CorrelationType::Temporal => vec![("eq".to_string(), spec.rules.len() as i64)],
        _ => spec
            .condition
            .as_ref()
            .map(|c| c.bounds.clone())
            .unwrap_or_default(),
    };
    let window = measure.map(|measure| Window {
        measure,
        span: span * 1_000_000,
        bounds,
    });
    Ok((
        selections,
        Stages {
            ctes: stages,
            groups: groups.len(),
            window,
        },
    ))
}

/// `a, b, ` (each name with `prefix`, each followed by a comma): the head of a column list.
fn list(names: &[String], prefix: &str) -> String {
    names.iter().map(|n| format!("{prefix}{n}, ")).collect()
}

/// Window ends where the number of distinct `column` values within `interval` meets `bound`
/// (on `measure`), in linear time: each value's occurrences are merged into spans (an
/// occurrence keeps the value in the window for `interval` after it), and a sweep over span
/// starts (+1) and ends (-1) counts the values present. The count only rises at a span start,
/// which is an event, so the window ends are taken there.
fn distinct_sweep(column: &str, groups: &[String], interval: &str, bound: &str) -> String {
    let by_value = format!("PARTITION BY {}{column}", list(groups, ""));
    let by_group = if groups.is_empty() {
        String::new()
    } else {
        format!("PARTITION BY {} ", groups.join(", "))
    };
    let g = list(groups, "");
    format!(
        "occurrences AS (\n  SELECT {g}{column}, eventtime,\n    CASE WHEN lag(eventtime) OVER ({by_value} ORDER BY eventtime) >= eventtime - {interval} THEN 0 ELSE 1 END AS starts_span\n  FROM matched WHERE {column} IS NOT NULL\n),\nspans AS (\n  SELECT {g}{column}, eventtime, sum(starts_span) OVER ({by_value} ORDER BY eventtime ROWS UNBOUNDED PRECEDING) AS span\n  FROM occurrences\n),\nedges AS (\n  SELECT {g}min(eventtime) AS at, 1 AS delta FROM spans GROUP BY {g}{column}, span\n  UNION ALL\n  SELECT {g}max(eventtime) + {interval} AS at, -1 AS delta FROM spans GROUP BY {g}{column}, span\n),\nswept AS (\n  SELECT {g}at, delta, sum(delta) OVER ({by_group}ORDER BY at, delta DESC ROWS UNBOUNDED PRECEDING) AS measure\n  FROM edges\n),\nends AS (\n  SELECT DISTINCT {g}at AS window_end FROM swept WHERE delta = 1 AND {bound}\n)"
    )
}

/// Window ends of `temporal_ordered`: step i keeps, on each event of the i-th rule, the latest
/// start of a chain rule 1 .. i ending there within `interval`; an event of the last rule whose
/// chain started within `interval` before it ends a window.
fn ordered_chain(spec: &Spec, groups: &[String], partition: &str, interval: &str) -> String {
    let mut steps = Vec::new();
    let mut previous = "matched".to_string();
    for (i, c) in spec.rules.iter().enumerate() {
        let rule = quote(c.rule.key());
        let chain = if i == 0 {
            "eventtime".to_string()
        } else {
            format!(
                "max(chain_{i}) OVER ({partition}ORDER BY eventtime RANGE BETWEEN {interval} PRECEDING AND CURRENT ROW)"
            )
        };
        steps.push(format!(
            "step_{n} AS (\n  SELECT *, CASE WHEN matched_rule = {rule} THEN {chain} END AS chain_{n}\n  FROM {previous}\n)",
            n = i + 1
        ));
        previous = format!("step_{}", i + 1);
    }
    let last = spec.rules.len();
    format!(
        "{},\nends AS (\n  SELECT DISTINCT {}eventtime AS window_end FROM step_{last}\n  WHERE chain_{last} >= eventtime - {interval}\n)",
        steps.join(",\n"),
        list(groups, "")
    )
}
