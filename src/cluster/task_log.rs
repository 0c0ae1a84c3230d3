//! What an executor tells its operator: one line on stderr per task, when it ends, with the rows
//! and bytes it wrote for the next stage and how long it took, or why it failed. Ballista's own
//! log says nothing at the default level, so an operator could not see the work flow or stop.

use std::fmt::{Debug, Display};
use std::sync::Arc;
use std::time::Instant;

use ballista_core::JobId;
use ballista_core::serde::protobuf::{
    RuntimeStatsReport, ShuffleWritePartition, TaskColumnStats, WindowStateReport,
};
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::prelude::SessionConfig;

/// Ballista's default engine, each of whose tasks logs a line when it ends.
#[derive(Default)]
pub struct LoggingEngine {
    inner: DefaultExecutionEngine,
}

impl ExecutionEngine for LoggingEngine {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> Result<Arc<dyn QueryStageExecutor>> {
        let inner = self.inner.create_query_stage_exec(
            job_id.clone(),
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(LoggedStage {
            inner,
            job_id,
            stage_id,
        }))
    }
}

#[derive(Debug)]
struct LoggedStage {
    inner: Arc<dyn QueryStageExecutor>,
    job_id: JobId,
    stage_id: usize,
}

impl Display for LoggedStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Display::fmt(&self.inner, f)
    }
}

impl LoggedStage {
    /// What the task's raw scans read from the archive (`read 120 log files (3.1 MiB), `), or
    /// nothing for a task without one.
    fn archive_read(&self) -> String {
        let (mut objects, mut bytes) = (0, 0);
        for set in self.inner.collect_plan_metrics() {
            objects += set.sum_by_name("objects_read").map_or(0, |v| v.as_usize());
            bytes += set.sum_by_name("bytes_read").map_or(0, |v| v.as_usize());
        }
        if objects == 0 {
            return String::new();
        }
        format!(
            "read {objects} log files ({:.1} MiB), ",
            bytes as f64 / (1024.0 * 1024.0)
        )
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for LoggedStage {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> Result<Vec<ShuffleWritePartition>> {
        let started = Instant::now();
        let result = self.inner.execute_query_stage(task_id, context).await;
        let task = format!(
            "trailscope: task {task_id} (job {}, stage {})",
            self.job_id, self.stage_id
        );
        let seconds = started.elapsed().as_secs_f64();
        match &result {
            Ok(parts) => {
                let rows: u64 = parts.iter().map(|p| p.num_rows).sum();
                let bytes: u64 = parts.iter().map(|p| p.num_bytes).sum();
                eprintln!(
                    "{task}: done in {seconds:.2}s, {}{rows} rows ({:.1} MiB) to {} output partitions",
                    self.archive_read(),
                    bytes as f64 / (1024.0 * 1024.0),
                    parts.len()
                );
            }
            Err(e) => {
                let reason = e.to_string();
                eprintln!(
                    "{task}: failed after {seconds:.2}s: {}",
                    reason.split_whitespace().collect::<Vec<_>>().join(" ")
                );
            }
        }
        result
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        self.inner.collect_plan_metrics()
    }

    fn collect_runtime_stats_reports(&self) -> Vec<RuntimeStatsReport> {
        self.inner.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(&self) -> Result<Vec<WindowStateReport>> {
        self.inner.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<TaskColumnStats> {
        self.inner.collect_column_stats()
    }
}
