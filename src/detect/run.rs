//! Running compiled rules: every rule planned first, the period decoded once (the shared scan
//! `check` uses) while every rule's condition is evaluated ([`matches`]), then each rule's query
//! over the matched events; rows become [`Hit`]s.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::EVENT_COLUMN_NAMES;
use super::load::Compiled;
use super::matches::{self, Matcher, Source, Stages};
use super::rule::Level;
use super::windows;
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
    /// Events some rule (or a rule a correlation names) matched: what the pass kept.
    pub matched_events: usize,
    /// Whether they went to a temporary file, past the memory budget.
    pub spilled: bool,
}

/// Runs `rules` over `source`: one decoding pass for all of them.
pub async fn detect(source: &TableSource, rules: &[Compiled]) -> Result<Outcome> {
    detect_within(source, rules, matches::MEMORY_BUDGET).await
}

/// [`detect`], holding at most `budget` bytes of matched events in memory (the rest go to a
/// temporary file).
pub async fn detect_within(
    source: &TableSource,
    rules: &[Compiled],
    budget: usize,
) -> Result<Outcome> {
    let ctx = table::session(source.clone())?;
    let pass = prepare(&ctx, source, rules).await?;
    let archive = source.archive.location.local_dir.clone();
    let mut collector = pass.matcher.collector().spilling_past(budget, archive);
    let mut keep = |batch: RecordBatch| collector.add(batch);
    table::shared_scan::share_cloudtrail_scan(
        &ctx,
        &[],
        |_| async { Ok(()) },
        vec![pass.along(&mut keep)],
    )
    .await?;
    let matched = collector.register(&ctx, pass.schema.clone()).await?;
    let outcome = run_rules(&ctx, pass).await?;
    Ok(Outcome {
        matched_events: matched.rows,
        spilled: matched.spilled(),
        ..outcome
    })
}

/// Rules ready for one pass over a session's `cloudtrail`: those whose queries plan, with the
/// columns the pass computes for them (see [`matches`]), and those that do not plan.
pub struct Pass {
    rules: Vec<Compiled>,
    matcher: Matcher,
    select: String,
    schema: SchemaRef,
    errors: Vec<(String, String)>,
}

impl Pass {
    /// The pass as a side of the shared scan: every event's flags and values go to `sink` (a
    /// [`matches::Collector`] keeps the matched ones).
    pub fn along<'a>(
        &'a self,
        sink: &'a mut (dyn FnMut(RecordBatch) -> Result<()> + Send),
    ) -> table::shared_scan::AlongSide<'a> {
        table::shared_scan::AlongSide {
            select: &self.select,
            sink,
        }
    }

    pub fn collector(&self) -> matches::Collector {
        self.matcher.collector()
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Each rule's title and its query over the matched events (for benchmarks and debugging).
    pub fn rule_queries(&self) -> Vec<(String, String)> {
        let source = Source::Matches(&self.matcher);
        self.rules
            .iter()
            .map(|r| (r.rule.title.clone(), r.sql_over(&source)))
            .collect()
    }
}

/// Plans each rule over `ctx`'s `cloudtrail` (still `source`'s table): one that does not plan,
/// or that reads the record's text where `source` does not keep it (a lake), fails alone, with
/// its reason, rather than failing the pass.
pub async fn prepare(
    ctx: &SessionContext,
    source: &TableSource,
    rules: &[Compiled],
) -> Result<Pass> {
    let mut ready = Vec::new();
    let mut errors = Vec::new();
    for rule in rules {
        match ctx.sql(&rule.sql).await {
            Ok(frame) => match source.unreadable_by(frame.logical_plan()) {
                Some(why) => errors.push((name(rule), why.to_string())),
                None => ready.push(rule.clone()),
            },
            Err(e) => errors.push((name(rule), Error::from(e).to_string())),
        }
    }
    let matcher = Matcher::new(&ready);
    let select = matcher.select_sql();
    let schema = ctx.sql(&select).await?.schema().inner().clone();
    Ok(Pass {
        rules: ready,
        matcher,
        select,
        schema,
        errors,
    })
}

fn name(rule: &Compiled) -> String {
    format!("{} ({})", rule.rule.title, rule.rule.origin)
}

/// Runs each rule of `pass` over the matched events in `ctx` (registered by the pass's
/// collector), several at once.
pub async fn run_rules(ctx: &SessionContext, pass: Pass) -> Result<Outcome> {
    let source = Source::Matches(&pass.matcher);
    // The rules that are not correlations take their rows from one query over the matched events.
    let (plain, correlations): (Vec<&Compiled>, Vec<&Compiled>) =
        pass.rules.iter().partition(|r| !r.is_correlation());
    let plain_rows = match pass.matcher.plain_sql(&plain) {
        Some(sql) => rows(ctx, &Query::Sql(sql)).await.map_err(|e| e.to_string()),
        None => Ok(Vec::new()),
    };
    let mut outcome = Outcome {
        errors: pass.errors.clone(),
        ..Outcome::default()
    };
    for rule in plain {
        let hits = match &plain_rows {
            Ok(batches) => match pass.matcher.rows_of(rule, batches) {
                Ok(mine) => to_hits(rule, &mine),
                Err(e) => Err(e.to_string()),
            },
            Err(why) => Err(why.clone()),
        };
        match hits {
            Ok(hits) => outcome.hits.extend(hits),
            Err(why) => outcome.errors.push((name(rule), why)),
        }
    }
    // A correlation the sweep evaluates runs as its `matched` rows, the sweep, and the join of
    // its members' events; any other as its query.
    let queries: Vec<(Compiled, Query)> = correlations
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let table = format!("detect_bursts_{i}");
            let query = match r.stages.as_ref().and_then(|s| Some((s, s.window.clone()?))) {
                Some((stages, window)) => Query::Swept {
                    matched: Stages::matched_sql(&r.selections, &source),
                    members: stages.members_sql(&table, &source),
                    table,
                    groups: stages.groups,
                    window,
                },
                None => Query::Sql(r.sql_over(&source)),
            };
            (r.clone(), query)
        })
        .collect();
    let results = table::on_every_core(queries, |(rule, query)| {
        let ctx = ctx.clone();
        async move {
            let outcome = match rows(&ctx, &query).await {
                Ok(batches) => to_hits(&rule, &batches),
                Err(e) => Err(e.to_string()),
            };
            (rule, outcome)
        }
    })
    .await;
    for result in results {
        match result {
            Ok((_, Ok(hits))) => outcome.hits.extend(hits),
            Ok((rule, Err(why))) => outcome.errors.push((name(&rule), why)),
            Err(e) => outcome
                .errors
                .push(("a rule".into(), format!("the rule's task failed: {e}"))),
        }
    }
    outcome.hits.sort_by(|a, b| hit_order(a).cmp(&hit_order(b)));
    Ok(outcome)
}

/// Hits in time order; the log file last, so a duplicated event (the same id in two files) is
/// two hits in one order whatever order the rows came in.
fn hit_order(h: &Hit) -> (&Option<String>, &str, &Option<String>, &Option<String>) {
    (
        &h.first.eventtime,
        &h.rule_id,
        &h.first.eventid,
        &h.first.log_file,
    )
}

/// How a rule's rows are got over the matched events.
enum Query {
    Sql(String),
    /// A correlation evaluated by [`windows::bursts`]: its `matched` rows, then its members'
    /// events joined from `table`, where the bursts are registered.
    Swept {
        matched: String,
        table: String,
        members: String,
        groups: usize,
        window: windows::Window,
    },
}

async fn rows(ctx: &SessionContext, query: &Query) -> Result<Vec<RecordBatch>> {
    let sql_rows = |sql: &str| {
        let parsed = statements::parse_checked(sql, None);
        async move {
            let mut results = statements::execute(ctx, parsed?).await?;
            Ok::<_, Error>(results.pop().map(|r| r.batches).unwrap_or_default())
        }
    };
    match query {
        Query::Sql(sql) => sql_rows(sql).await,
        Query::Swept {
            matched,
            table,
            members,
            groups,
            window,
        } => {
            let frame = ctx.sql(matched).await?;
            let schema = frame.schema().inner().clone();
            let batches = frame.collect().await?;
            let bursts = windows::bursts(&schema, batches, *groups, window)?;
            ctx.register_batch(table, bursts)?;
            let result = sql_rows(members).await;
            ctx.deregister_table(table.as_str())?;
            result
        }
    }
}

fn to_hits(rule: &Compiled, batches: &[RecordBatch]) -> std::result::Result<Vec<Hit>, String> {
    let mut single = Vec::new();
    // Correlation rows grouped by (group values, burst): one hit each.
    let mut bursts: BTreeMap<Vec<Option<String>>, (Group, Vec<Event>)> = BTreeMap::new();
    let group_names = &rule.group_by;
    for batch in batches {
        let column = |name: &str| crate::output::text_cells(batch, name);
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
            if !rule.is_correlation() {
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
        events.sort_by(|a, b| {
            (&a.eventtime, &a.eventid, &a.log_file).cmp(&(&b.eventtime, &b.eventid, &b.log_file))
        });
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
