//! Running compiled rules: every rule planned first, the period decoded once (the shared scan
//! `check` uses), then each rule's query over the shared rows; rows become [`Hit`]s.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::Serialize;

use super::EVENT_COLUMN_NAMES;
use super::load::Compiled;
use super::rule::Level;
use crate::error::{Error, Result};
use crate::table::{self, TableSource, statements};

/// One event of a hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub eventtime: Option<String>,
    pub eventname: Option<String>,
    pub eventsource: Option<String>,
    pub principal: Option<String>,
    pub sourceipaddress: Option<String>,
    pub useragent: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub eventid: Option<String>,
    pub log_file: Option<String>,
    /// The correlated rule it matched (correlations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_rule: Option<String>,
}

/// A correlation's group-by values: (field as the rule names it, value).
pub type Group = Vec<(String, Option<String>)>;

/// One detection: a matched event, or a correlation's burst of events.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule_id: String,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    /// The first event (for a correlation, the earliest of its events).
    pub first: Event,
    /// Every event of a correlation hit, in time order; empty for a single-event hit.
    pub events: Vec<Event>,
    pub group: Group,
}

/// Every hit, in time order, and the rules that failed at run time (rule, why).
#[derive(Debug, Default)]
pub struct Outcome {
    pub hits: Vec<Hit>,
    pub errors: Vec<(String, String)>,
}

/// Runs `rules` over `source`: one decoding pass for all of them.
pub async fn detect(source: &TableSource, rules: &[Compiled]) -> Result<Outcome> {
    let ctx = table::session(source.clone())?;
    let queries: Vec<String> = rules.iter().map(|r| r.sql.clone()).collect();
    table::shared_scan::share_cloudtrail_scan(&ctx, &queries, |_| async { Ok(()) }, None).await?;
    run_rules(&ctx, rules).await
}

/// Runs each rule in `ctx` (which holds `cloudtrail`), several at once.
pub async fn run_rules(ctx: &SessionContext, rules: &[Compiled]) -> Result<Outcome> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results: Vec<_> = futures::stream::iter(rules)
        .map(|rule| {
            let (ctx, owned) = (ctx.clone(), rule.clone());
            let task = tokio::spawn(async move { run_one(&ctx, &owned).await });
            async move {
                let outcome = task
                    .await
                    .unwrap_or_else(|e| Err(format!("the rule's task failed: {e}")));
                (rule, outcome)
            }
        })
        .buffered(cores)
        .collect()
        .await;
    let mut outcome = Outcome::default();
    for (rule, result) in results {
        match result {
            Ok(hits) => outcome.hits.extend(hits),
            Err(why) => outcome
                .errors
                .push((format!("{} ({})", rule.rule.title, rule.rule.origin), why)),
        }
    }
    outcome.hits.sort_by(|a, b| {
        (&a.first.eventtime, &a.rule_id, &a.first.eventid).cmp(&(
            &b.first.eventtime,
            &b.rule_id,
            &b.first.eventid,
        ))
    });
    Ok(outcome)
}

async fn run_one(ctx: &SessionContext, rule: &Compiled) -> std::result::Result<Vec<Hit>, String> {
    let fail = |e: Error| e.to_string();
    let parsed = statements::parse_checked(&rule.sql, None).map_err(fail)?;
    let mut results = statements::execute(ctx, parsed).await.map_err(fail)?;
    let batches = results.pop().map(|r| r.batches).unwrap_or_default();
    let mut single = Vec::new();
    // Correlation rows grouped by (group values, burst): one hit each.
    let mut bursts: BTreeMap<Vec<Option<String>>, (Group, Vec<Event>)> = BTreeMap::new();
    let group_names = &rule.group_by;
    for batch in &batches {
        let column = |name: &str| text_column(batch, name);
        let events: Vec<Vec<Option<String>>> = EVENT_COLUMN_NAMES
            .iter()
            .map(|n| column(n))
            .collect::<std::result::Result<_, _>>()?;
        let matched = column("matched_rule").ok();
        let groups: Vec<Vec<Option<String>>> = (1..=group_names.len())
            .map(|i| column(&format!("group_{i}")))
            .collect::<std::result::Result<_, _>>()?;
        let burst = column("burst").ok();
        for row in 0..batch.num_rows() {
            let cell = |i: usize| events[i][row].clone();
            let event = Event {
                eventtime: cell(0),
                eventname: cell(1),
                eventsource: cell(2),
                principal: cell(3),
                sourceipaddress: cell(4),
                useragent: cell(5),
                account_id: cell(6),
                region: cell(7),
                eventid: cell(8),
                log_file: cell(9),
                matched_rule: matched.as_ref().and_then(|m| m[row].clone()),
            };
            if !rule.correlation {
                single.push(hit(rule, event, Vec::new(), Vec::new()));
                continue;
            }
            let mut key: Vec<Option<String>> = groups.iter().map(|g| g[row].clone()).collect();
            key.push(burst.as_ref().and_then(|b| b[row].clone()));
            let entry = bursts.entry(key).or_insert_with(|| {
                let values = group_names
                    .iter()
                    .zip(&groups)
                    .map(|(name, g)| (name.clone(), g[row].clone()))
                    .collect();
                (values, Vec::new())
            });
            entry.1.push(event);
        }
    }
    for (_, (group, mut events)) in bursts {
        events.sort_by(|a, b| (&a.eventtime, &a.eventid).cmp(&(&b.eventtime, &b.eventid)));
        let Some(first) = events.first().cloned() else {
            continue;
        };
        single.push(hit(rule, first, events, group));
    }
    Ok(single)
}

fn hit(rule: &Compiled, first: Event, events: Vec<Event>, group: Group) -> Hit {
    let r = &rule.rule;
    Hit {
        rule_id: r.key().to_string(),
        title: r.title.clone(),
        level: r.level,
        status: r.status.clone(),
        author: r.author.clone(),
        tags: r.tags.clone(),
        first,
        events,
        group,
    }
}

/// A column as optional text per row (times as RFC 3339).
fn text_column(
    batch: &RecordBatch,
    name: &str,
) -> std::result::Result<Vec<Option<String>>, String> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| format!("the rule's query has no {name} column"))?;
    let column = match column.data_type() {
        DataType::Timestamp(_, _) => Arc::new(
            cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
                .map_err(|e| format!("column {name}: {e}"))?
                .as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
                .iter()
                .map(|t| {
                    t.and_then(chrono::DateTime::from_timestamp_micros)
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                })
                .collect::<datafusion::arrow::array::StringArray>(),
        ),
        _ => cast(column, &DataType::Utf8).map_err(|e| format!("column {name}: {e}"))?,
    };
    let strings = column.as_string::<i32>();
    Ok((0..strings.len())
        .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
        .collect())
}

/// Hits as records for any output format: one row per hit; `events` (a correlation's events)
/// and `group` are JSON, embedded as JSON by the JSON formats.
pub fn hits_records(hits: &[Hit]) -> Result<RecordBatch> {
    use crate::output::Column::{Json, Text};
    let columns = [
        ("eventtime", Text),
        ("level", Text),
        ("rule_id", Text),
        ("title", Text),
        ("status", Text),
        ("author", Text),
        ("tags", Text),
        ("eventname", Text),
        ("eventsource", Text),
        ("principal", Text),
        ("sourceipaddress", Text),
        ("useragent", Text),
        ("account_id", Text),
        ("region", Text),
        ("eventid", Text),
        ("log_file", Text),
        ("event_count", Text),
        ("group", Json),
        ("events", Json),
    ];
    crate::output::records(
        &columns,
        hits.iter().map(|h| {
            let e = &h.first;
            let group = (!h.group.is_empty()).then(|| {
                serde_json::Value::Object(
                    h.group
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone().into()))
                        .collect(),
                )
                .to_string()
            });
            let events = (!h.events.is_empty())
                .then(|| serde_json::to_string(&h.events).unwrap_or_default());
            vec![
                e.eventtime.clone(),
                Some(h.level.as_str().to_string()),
                Some(h.rule_id.clone()),
                Some(h.title.clone()),
                h.status.clone(),
                h.author.clone(),
                Some(h.tags.join(",")),
                e.eventname.clone(),
                e.eventsource.clone(),
                e.principal.clone(),
                e.sourceipaddress.clone(),
                e.useragent.clone(),
                e.account_id.clone(),
                e.region.clone(),
                e.eventid.clone(),
                e.log_file.clone(),
                Some(h.events.len().max(1).to_string()),
                group,
                events,
            ]
        }),
    )
}
