//! Running controls in a session and turning their rows into [`Finding`]s.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use serde_json::{Map, Value, json};

use super::params::{ParamValues, Unset, substitute};
use super::{Control, Finding, Kind, Status};
use crate::error::{Error, Result};
use crate::table::statements;

/// Columns with a place in a finding; any other column goes into the evidence.
const SHAPE: &[&str] = &[
    "control_id",
    "status",
    "resource",
    "account_id",
    "region",
    "window_start",
    "window_end",
    "evidence",
];

/// Every control's findings, fail first by severity, and the controls that could not run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// (control id, why it could not run): its finding is inconclusive with the reason.
    pub errors: Vec<(String, String)>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .count()
    }

    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }
}

/// Runs each control in `ctx` (which must hold the archive and snapshot tables). Meta controls
/// (kind `meta`) run last, over the other controls' rows in the `findings` table.
pub async fn run_controls(
    ctx: &SessionContext,
    controls: &[Control],
    values: &ParamValues,
) -> Result<Report> {
    let ctx = &one_partition_each(ctx);
    let mut report = Report::default();
    let (meta, evidence): (Vec<&Control>, Vec<&Control>) =
        controls.iter().partition(|c| c.meta.kind == Kind::Meta);
    run_each(ctx, &evidence, values, &mut report).await;
    if !meta.is_empty() {
        ctx.deregister_table("findings")?;
        ctx.register_table("findings", Arc::new(findings_table(&report.findings)?))?;
        run_each(ctx, &meta, values, &mut report).await;
    }
    // A total order: rows of one control arrive in whatever order its partitions finish, and
    // reports must come out byte for byte the same from the same inputs.
    report.findings.sort_by(|a, b| {
        let key = |f: &Finding| {
            (
                f.status,
                f.severity,
                f.control_id.clone(),
                f.resource.clone(),
                f.account_id.clone(),
                f.region.clone(),
                f.window_start.clone(),
                f.evidence.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(report)
}

/// The findings so far as a table: one row per finding, the shape of [`Finding`].
pub fn findings_table(findings: &[Finding]) -> Result<MemTable> {
    let batch = findings_batch(findings)?;
    Ok(MemTable::try_new(batch.schema(), vec![vec![batch]])?)
}

/// Findings as records for any output format: the columns of [`findings_batch`], with the
/// evidence embedded as JSON by the JSON formats.
pub fn findings_records(findings: &[Finding]) -> Result<RecordBatch> {
    use crate::output::Column::{Json, Text};
    let columns = [
        ("control_id", Text),
        ("status", Text),
        ("severity", Text),
        ("title", Text),
        ("resource", Text),
        ("account_id", Text),
        ("region", Text),
        ("window_start", Text),
        ("window_end", Text),
        ("evidence", Json),
    ];
    crate::output::records(
        &columns,
        findings.iter().map(|f| {
            vec![
                Some(f.control_id.clone()),
                Some(f.status.as_str().to_string()),
                Some(f.severity.as_str().to_string()),
                Some(f.title.clone()),
                Some(f.resource.clone()),
                f.account_id.clone(),
                f.region.clone(),
                f.window_start.clone(),
                f.window_end.clone(),
                Some(f.evidence.clone()),
            ]
        }),
    )
}

/// Findings as one record batch (text columns; evidence is JSON text).
pub fn findings_batch(findings: &[Finding]) -> Result<RecordBatch> {
    let text = |f: fn(&Finding) -> Option<&str>| -> ArrayRef {
        Arc::new(findings.iter().map(f).collect::<StringArray>())
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("control_id", text(|f| Some(&f.control_id))),
        ("status", text(|f| Some(f.status.as_str()))),
        ("severity", text(|f| Some(f.severity.as_str()))),
        ("title", text(|f| Some(&f.title))),
        ("resource", text(|f| Some(&f.resource))),
        ("account_id", text(|f| f.account_id.as_deref())),
        ("region", text(|f| f.region.as_deref())),
        ("window_start", text(|f| f.window_start.as_deref())),
        ("window_end", text(|f| f.window_end.as_deref())),
        ("evidence", text(|f| Some(&f.evidence))),
    ];
    Ok(RecordBatch::try_from_iter(columns).map_err(DataFusionError::from)?)
}

/// `ctx` (the same tables, functions and settings) planning each query on one partition, with one
/// pass of the logical optimizer.
///
/// The controls read the shared rows, held in memory, and run as many at once as there are cores
/// (see [`run_each`]). Spreading one control over every core saves nothing on those rows, and
/// planning it costs: DataFusion's distribution and ordering pass was a quarter of the controls'
/// CPU in a month's report (profile), and on one partition the controls took 1.16 s against
/// 1.28 s (`cargo bench --bench report -- --phases-only`, medians of four alternating runs).
/// The optimizer runs its rules again until a pass changes nothing, so every control paid for at
/// least a second pass, which for the catalog only confirms the first: one pass took the
/// controls from 1.07 s to 0.86 s (`--phases-only`, three alternating runs), and the month's
/// report came out byte for byte the same. Optimizer passes keep a query's answer; a later pass
/// only finds a cheaper plan, which a few thousand rows in memory do not need.
fn one_partition_each(ctx: &SessionContext) -> SessionContext {
    crate::table::with_options(ctx, |o| {
        o.execution.target_partitions = 1;
        o.optimizer.max_passes = 1;
    })
}

async fn run_each(
    ctx: &SessionContext,
    controls: &[&Control],
    values: &ParamValues,
    report: &mut Report,
) {
    // Controls are independent queries over the same tables; most of their time is planning,
    // one core each, so several run at once. Results come back in catalog order.
    let outcomes = crate::table::on_every_core(controls, |control| {
        let (ctx, owned, values) = (ctx.clone(), (*control).clone(), values.clone());
        async move { run_one(&ctx, &owned, &values).await }
    })
    .await;
    for (&control, outcome) in controls.iter().zip(outcomes) {
        let outcome = outcome
            .unwrap_or_else(|e| Err(Outcome::Error(format!("the control's task failed: {e}"))));
        match outcome {
            Ok(findings) if findings.is_empty() => report.findings.push(lone(
                control,
                Status::Inconclusive,
                json!({"reason": "the control returned no rows: nothing to evaluate"}),
            )),
            Ok(findings) => report.findings.extend(findings),
            Err(Outcome::Unset(Unset(name))) => report.findings.push(lone(
                control,
                Status::Inconclusive,
                json!({"reason": format!("parameter {name} is not set: give it a value as a parameter override or set it in the snapshot profile")}),
            )),
            Err(Outcome::Error(message)) => {
                report.findings.push(lone(
                    control,
                    Status::Inconclusive,
                    json!({"error": message}),
                ));
                report.errors.push((control.meta.id.clone(), message));
            }
        }
    }
}

enum Outcome {
    Unset(Unset),
    Error(String),
}

fn lone(control: &Control, status: Status, evidence: Value) -> Finding {
    Finding {
        control_id: control.meta.id.clone(),
        status,
        severity: control.meta.severity,
        title: control.meta.title.clone(),
        resource: "*".to_string(),
        account_id: None,
        region: None,
        window_start: None,
        window_end: None,
        evidence: evidence.to_string(),
    }
}

async fn run_one(
    ctx: &SessionContext,
    control: &Control,
    values: &ParamValues,
) -> std::result::Result<Vec<Finding>, Outcome> {
    let sql = match substitute(&control.meta, &control.sql, values) {
        Ok(Ok(sql)) => sql,
        Ok(Err(unset)) => return Err(Outcome::Unset(unset)),
        Err(e) => return Err(Outcome::Error(e)),
    };
    let fail = |e: Error| Outcome::Error(format!("{}: {e}", control.origin));
    let parsed = statements::parse_checked(&sql, None).map_err(fail)?;
    let mut results = statements::execute(ctx, parsed).await.map_err(fail)?;
    let Some(last) = results.pop() else {
        return Ok(Vec::new());
    };
    let mut findings = Vec::new();
    for batch in &last.batches {
        findings.extend(
            findings_of(control, batch)
                .map_err(|m| Outcome::Error(format!("{}: {m}", control.origin)))?,
        );
    }
    Ok(findings)
}

/// A column as optional text per row (timestamps as RFC 3339, numbers as written).
fn text_column(
    batch: &RecordBatch,
    name: &str,
) -> std::result::Result<Option<Vec<Option<String>>>, String> {
    let Some(column) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let utf8 = cast(column, &DataType::Utf8).map_err(|e| format!("column {name}: {e}"))?;
    let strings = utf8.as_string::<i32>();
    Ok(Some(
        (0..strings.len())
            .map(|i| (!strings.is_null(i)).then(|| strings.value(i).to_string()))
            .collect(),
    ))
}

/// Every column outside [`SHAPE`], one JSON object per row.
fn extra_evidence(batch: &RecordBatch) -> std::result::Result<Vec<Map<String, Value>>, String> {
    let schema = batch.schema();
    let extra: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !SHAPE.contains(&schema.field(*i).name().as_str()))
        .collect();
    if extra.is_empty() {
        return Ok(vec![Map::new(); batch.num_rows()]);
    }
    let projected = batch.project(&extra).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
        writer.write(&projected).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    let text = String::from_utf8_lossy(&buf);
    let mut rows: Vec<Map<String, Value>> = text
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        })
        .collect();
    // The writer leaves out all-null rows' keys; keep one object per row whatever happens.
    rows.resize(batch.num_rows(), Map::new());
    Ok(rows)
}

fn findings_of(
    control: &Control,
    batch: &RecordBatch,
) -> std::result::Result<Vec<Finding>, String> {
    let required = |name: &str| -> std::result::Result<Vec<Option<String>>, String> {
        text_column(batch, name)?.ok_or_else(|| {
            format!("the query has no {name} column; a control returns status, resource, account_id (and optionally region, window_start, window_end, evidence)")
        })
    };
    let optional = |name: &str| -> std::result::Result<Vec<Option<String>>, String> {
        Ok(text_column(batch, name)?.unwrap_or_else(|| vec![None; batch.num_rows()]))
    };
    let status = required("status")?;
    let resource = required("resource")?;
    let account = required("account_id")?;
    let region = optional("region")?;
    let start = optional("window_start")?;
    let end = optional("window_end")?;
    let evidence = optional("evidence")?;
    let extras = extra_evidence(batch)?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let raw = status[i].clone().unwrap_or_default();
        let s = Status::parse(&raw)
            .ok_or_else(|| format!("status {raw:?} is not fail, pass or inconclusive"))?;
        let mut ev = match evidence[i].as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(m))) => m,
            Some(Ok(other)) => Map::from_iter([("evidence".to_string(), other)]),
            Some(Err(_)) => Map::from_iter([(
                "evidence".to_string(),
                Value::String(evidence[i].clone().unwrap_or_default()),
            )]),
            None => Map::new(),
        };
        ev.extend(extras[i].clone());
        out.push(Finding {
            control_id: control.meta.id.clone(),
            status: s,
            severity: control.meta.severity,
            title: control.meta.title.clone(),
            resource: resource[i].clone().unwrap_or_else(|| "*".to_string()),
            account_id: account[i].clone(),
            region: region[i].clone(),
            window_start: start[i].clone(),
            window_end: end[i].clone(),
            evidence: Value::Object(ev).to_string(),
        });
    }
    Ok(out)
}
