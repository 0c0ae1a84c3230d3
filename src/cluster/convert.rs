//! `convert --cluster`: executors decode the archive's log files and write the lake's Parquet;
//! the client commits.
//!
//! The client plans the run as a local one does (the lake's last commit, its orphans removed,
//! the archive listed, the objects still to convert), cuts the objects into waves of at most
//! [`wave_objects`] and each wave into tasks of neighbouring keys, and sends a wave as one job
//! ([`ConvertTasks`] through the logical codec, one [`ConvertTaskExec`] per task through the
//! physical one). Each task converts its objects into files under a name of its own and answers
//! with what it wrote, as one row. Only when every task of a wave has succeeded does the client
//! commit the wave, all its files in one commit: an executor or a client killed before then
//! leaves files no manifest names, which the next run deletes before it converts what is still
//! missing (the local guarantees: no loss, no doubles).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::stream;
use serde::{Deserialize, Serialize};

use super::raw::{StoreAddress, WireObject};
use crate::archive::{ArchiveSource, ReadError, Scope};
use crate::lake::convert::{Plan, Step, commit_steps, convert_uncommitted, run_id};
use crate::lake::{ConvertOptions, ConvertSummary, Lake};

/// What a task writes with, as it travels in a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskOptions {
    pub commit_bytes: u64,
    pub step_decoded_bytes: usize,
    pub max_file_rows: usize,
}

/// A conversion's tasks, as a table the scheduler plans.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConvertTasks {
    pub archive: StoreAddress,
    pub lake: StoreAddress,
    /// The run's name; each task's files carry it, the task's number and a salt of their own.
    pub run: String,
    pub tasks: Vec<Vec<WireObject>>,
    pub options: TaskOptions,
}

/// The one column of a conversion's answer: a task's [`TaskOutput`] as JSON.
fn output_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "task_output",
        DataType::Utf8,
        false,
    )]))
}

#[async_trait]
impl TableProvider for ConvertTasks {
    fn schema(&self) -> SchemaRef {
        output_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Runs on the scheduler: one task per branch of a union, so the static planner gives each
    /// a stage and each runs once (see `raw::ArchiveObjects::plan`).
    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let tasks: Vec<Arc<dyn ExecutionPlan>> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(number, objects)| {
                Arc::new(ConvertTaskExec::new(ConvertTask {
                    archive: self.archive.clone(),
                    lake: self.lake.clone(),
                    run: format!("{}-t{number}", self.run),
                    objects: objects.clone(),
                    options: self.options.clone(),
                })) as Arc<dyn ExecutionPlan>
            })
            .collect();
        super::stage_each(tasks)
    }
}

/// One task of a conversion, as it travels to an executor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConvertTask {
    pub archive: StoreAddress,
    pub lake: StoreAddress,
    pub run: String,
    pub objects: Vec<WireObject>,
    pub options: TaskOptions,
}

/// What a task wrote and could not read: its answer to the client.
#[derive(Debug, Serialize, Deserialize)]
pub struct TaskOutput {
    pub steps: Vec<Step>,
    /// Keys of the objects left raw.
    pub unreadable: Vec<String>,
    /// Why, for each (and for objects only partly read).
    pub errors: Vec<ReadError>,
}

/// One task of a conversion: converts its objects on an executor and answers with one row.
pub struct ConvertTaskExec {
    task: ConvertTask,
    properties: Arc<PlanProperties>,
}

impl ConvertTaskExec {
    pub fn new(task: ConvertTask) -> Self {
        let properties = super::one_task(output_schema(), EmissionType::Final);
        ConvertTaskExec { task, properties }
    }

    pub fn task(&self) -> &ConvertTask {
        &self.task
    }
}

impl fmt::Debug for ConvertTaskExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConvertTaskExec({})", self.task.run)
    }
}

impl DisplayAs for ConvertTaskExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "ConvertTaskExec: run={}, objects={}, lake={}",
            self.task.run,
            self.task.objects.len(),
            self.task.lake.location
        )
    }
}

impl ExecutionPlan for ConvertTaskExec {
    fn name(&self) -> &str {
        "ConvertTaskExec"
    }

    crate::table::scan::leaf_plan_methods!();

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let task = self.task.clone();
        let row = stream::once(async move {
            let output = run_task(task)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            let json = serde_json::to_string(&output)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            Ok(RecordBatch::try_new(
                output_schema(),
                vec![Arc::new(StringArray::from(vec![json]))],
            )?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            output_schema(),
            row,
        )))
    }
}

/// Converts a task's objects on this executor. The files are named after the run, the task and
/// this attempt (a task run again after a failure writes new files; the old ones are orphans).
async fn run_task(task: ConvertTask) -> crate::Result<TaskOutput> {
    let location = task.archive.open().await?;
    let lake = Lake {
        location: task.lake.open().await?,
    };
    let mut source = ArchiveSource::new(location, Scope::default(), false);
    // Judged by the client, which knows --strict and --allow-partial.
    source.allow_partial = true;
    let options = ConvertOptions {
        commit_bytes: task.options.commit_bytes,
        step_decoded_bytes: task.options.step_decoded_bytes,
        max_file_rows: task.options.max_file_rows,
        stop_after_files: None,
    };
    let objects = task.objects.iter().filter_map(WireObject::entry).collect();
    let run = format!("{}-{}", task.run, run_id());
    let (steps, unreadable) = convert_uncommitted(&source, &lake, &run, objects, &options).await?;
    Ok(TaskOutput {
        steps,
        unreadable,
        errors: source.errors.all(),
    })
}

/// How many objects one job of a cluster conversion carries (`TRAILSCOPE_CLUSTER_CONVERT_WAVE`,
/// default 100,000: a plan of about 20 MiB). A larger conversion runs as several jobs, one after
/// another, each committed once all its tasks have succeeded: an organization's first
/// conversion (tens of millions of objects) fits no single plan, and a run killed after hours
/// keeps every wave it finished.
fn wave_objects() -> usize {
    std::env::var("TRAILSCOPE_CLUSTER_CONVERT_WAVE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100_000)
        .min(super::MAX_PLAN_OBJECTS)
}

/// Converts the objects of `source` the lake does not hold yet on the cluster at `url`, a wave
/// of objects (in key order) per job and per commit.
pub async fn convert_on_cluster(
    url: &str,
    source: &ArchiveSource,
    lake: &Lake,
    options: &ConvertOptions,
) -> crate::Result<ConvertSummary> {
    let mut plan = Plan::make(source, lake).await?;
    let run = run_id();
    let todo = std::mem::take(&mut plan.todo);
    let mut unreadable = Vec::new();
    if !todo.is_empty() {
        let remote = super::remote_context(url, false).await?;
        // What every wave's job carries but its tasks.
        let job = ConvertTasks {
            archive: StoreAddress::of(&source.location),
            lake: StoreAddress::of(&lake.location),
            run: run.clone(),
            tasks: Vec::new(),
            options: TaskOptions {
                commit_bytes: options.commit_bytes,
                step_decoded_bytes: options.step_decoded_bytes,
                max_file_rows: options.max_file_rows,
            },
        };
        for wave in todo.chunks(wave_objects()) {
            let tasks = ConvertTasks {
                tasks: tasks_of(wave, options.commit_bytes),
                ..job.clone()
            };
            let rows = remote.read_table(Arc::new(tasks))?.collect().await;
            let rows = rows.map_err(super::job_failure)?;
            let mut steps = Vec::new();
            for batch in &rows {
                for json in batch.column(0).as_string::<i32>().iter().flatten() {
                    let output: TaskOutput = serde_json::from_str(json).map_err(|e| {
                        crate::Error::Runtime(format!("a convert task's answer: {e}"))
                    })?;
                    // Fails here, before the wave is committed, under --strict (or for an
                    // object that could not be fetched).
                    source.record_read_errors(output.errors)?;
                    steps.extend(output.steps);
                    unreadable.extend(output.unreadable);
                }
            }
            commit_steps(&mut plan, lake, &run, steps).await?;
        }
    }
    plan.summary.objects_unreadable = unreadable.len();
    plan.finish(source, lake, &run, unreadable).await
}

/// Objects in key order cut into tasks of about `bytes` compressed bytes each: a task covers
/// neighbouring delivery days of one account and region, so it writes few files.
fn tasks_of(todo: &[crate::archive::ObjectEntry], bytes: u64) -> Vec<Vec<WireObject>> {
    let mut tasks: Vec<Vec<WireObject>> = Vec::new();
    let mut size = u64::MAX;
    for o in todo {
        if size >= bytes {
            tasks.push(Vec::new());
            size = 0;
        }
        size += o.size;
        if let Some(task) = tasks.last_mut() {
            task.push(WireObject::of(o));
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_keep_key_order_and_size() {
        let entry = |key: &str, size: u64| {
            crate::archive::ObjectEntry {
            key: key.into(),
            parsed: crate::archive::layout::parse_key(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T0000Z_a.json.gz",
            )
            .unwrap(),
            size,
            last_modified: chrono::Utc::now(),
            e_tag: None,
        }
        };
        let todo: Vec<_> = (0..7).map(|i| entry(&format!("k{i}"), 10)).collect();
        let tasks = tasks_of(&todo, 25);
        let keys: Vec<Vec<&str>> = tasks
            .iter()
            .map(|t| t.iter().map(|o| o.key.as_str()).collect())
            .collect();
        assert_eq!(
            keys,
            [vec!["k0", "k1", "k2"], vec!["k3", "k4", "k5"], vec!["k6"]]
        );
        assert!(tasks_of(&[], 25).is_empty());
    }
}
