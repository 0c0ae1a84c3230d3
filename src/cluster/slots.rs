//! Task slots that Ballista 55's scheduler never gives back, given back.
//!
//! The scheduler takes an executor's slots when it binds tasks to it and returns them when the
//! tasks' statuses arrive, counting how many each task held from the job's execution graph. When
//! an executor dies mid-query, the stages that read its shuffle output are rolled back; the
//! tasks other executors were running in them are cancelled, and their statuses then find no
//! task in the rolled-back stage, so they return nothing. Each such task leaves a slot taken for
//! good. An executor running one task at a time is then never offered work again: the job's
//! rerun tasks wait forever and the client with them (seen in every run of a kill just after an
//! executor's first task, `tests/cluster.rs`). Tasks of a job that failed meanwhile leak the
//! same way.
//!
//! A job whose executor dies mid-query is stopped, not rerun: after those slots came back, Ballista
//! 55's rerun of the lost work gave a larger answer with exit 0 (counts of the bundled archive's
//! events up to 1.5 times the truth, in one run of two over raw logs). The job is cancelled as the
//! executor is removed, before the scheduler hears of the loss; the client fails with exit 2 and
//! the query can be run again on the executors left.
//!
//! [`SlotLedger`] wraps the scheduler's cluster state and keeps its own book of what was bound
//! and returned, and of the jobs each executor has run tasks for. [`give_back_leaked_slots`]
//! compares, every second, each executor's bound slots with the tasks the running jobs' graphs
//! still show on it; slots held with no task behind them on two checks in a row are returned,
//! and the scheduler is asked to offer them again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ballista_core::serde::protobuf::ExecutorHeartbeat;
use ballista_core::serde::protobuf::UpdateTaskStatusParams;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpc;
use ballista_core::serde::scheduler::{ExecutorData, ExecutorMetadata};
use ballista_core::{JobId, error::Result};
use ballista_scheduler::cluster::{BoundTask, ClusterState, ClusterStateEventStream, ExecutorSlot};
use ballista_scheduler::config::TaskDistributionPolicy;
use ballista_scheduler::scheduler_server::SchedulerServer;
use ballista_scheduler::state::task_manager::JobInfoCache;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

/// A task, as the execution graph names it while it runs: job, stage, task.
type TaskRef = (JobId, usize, usize);

/// What the running jobs' graphs show, read before a check.
#[derive(Debug, Default)]
struct Running {
    /// Each running task's executor.
    tasks: HashMap<TaskRef, String>,
    jobs: HashSet<JobId>,
}

impl Running {
    fn on(&self, task: &TaskRef, executor: &str) -> bool {
        self.tasks.get(task).is_some_and(|e| e == executor)
    }
}

#[derive(Debug, Default)]
struct Book {
    /// Slots bound and not yet returned, per executor.
    bound: HashMap<String, u32>,
    /// Slots each bound task took, and the check it was bound before.
    tasks: HashMap<TaskRef, (String, u32, u64)>,
    /// Bumped on every bind and return: a check whose book changed under it decides nothing.
    changes: u64,
    /// Checks made so far.
    checks: u64,
    /// The jobs each executor has been given tasks of, with the check each was last bound before.
    jobs: HashMap<String, HashMap<JobId, u64>>,
}

impl Book {
    fn bind(&mut self, executor: &str, task: TaskRef, slots: u32) {
        let since = self.checks;
        *self.bound.entry(executor.to_string()).or_default() += slots;
        self.jobs
            .entry(executor.to_string())
            .or_default()
            .insert(task.0.clone(), since);
        self.tasks
            .insert(task, (executor.to_string(), slots, since));
        self.changes += 1;
    }

    /// Slots per executor that no running task accounts for, given the tasks and jobs running
    /// now (read before this is called); and the book's change count they were seen at.
    fn unaccounted(&mut self, running: &Running) -> (u64, HashMap<String, u32>) {
        self.checks += 1;
        let now = self.checks;
        // What was bound since the previous check may have been bound after `running` was
        // read: it is kept, and a task only counted once the graph shows it.
        let recent = |since: u64| since + 2 > now;
        self.tasks
            .retain(|task, (executor, _, since)| running.on(task, executor) || recent(*since));
        for jobs in self.jobs.values_mut() {
            jobs.retain(|job, since| running.jobs.contains(job) || recent(*since));
        }
        let mut held: HashMap<String, u32> = HashMap::new();
        for (task, (executor, slots, _)) in &self.tasks {
            if running.on(task, executor) {
                *held.entry(executor.clone()).or_default() += slots;
            }
        }
        let excess = self
            .bound
            .iter()
            .filter_map(|(executor, &bound)| {
                let extra = bound.saturating_sub(held.get(executor).copied().unwrap_or(0));
                (extra > 0).then(|| (executor.clone(), extra))
            })
            .collect();
        (self.changes, excess)
    }
}

/// The scheduler's cluster state, with a book of the slots it binds and returns.
pub struct SlotLedger {
    inner: Arc<dyn ClusterState>,
    book: Mutex<Book>,
    /// Set once the scheduler exists (it is made from this ledger).
    scheduler: std::sync::OnceLock<Scheduler>,
}

impl SlotLedger {
    pub fn new(inner: Arc<dyn ClusterState>) -> SlotLedger {
        SlotLedger {
            inner,
            book: Mutex::new(Book::default()),
            scheduler: std::sync::OnceLock::new(),
        }
    }

    /// The scheduler whose jobs an executor's loss cancels.
    pub fn serve(&self, scheduler: Scheduler) {
        let _ = self.scheduler.set(scheduler);
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unaccounted(&self, running: &Running) -> (u64, HashMap<String, u32>) {
        self.book().unaccounted(running)
    }

    fn returned(&self, slots: &[ExecutorSlot]) {
        let mut book = self.book();
        for (executor, n) in slots {
            if let Some(bound) = book.bound.get_mut(executor) {
                *bound = bound.saturating_sub(*n);
            }
        }
        book.changes += 1;
    }
}

#[async_trait::async_trait]
impl ClusterState for SlotLedger {
    async fn init(&self) -> Result<()> {
        self.inner.init().await
    }

    async fn bind_schedulable_tasks(
        &self,
        distribution: TaskDistributionPolicy,
        active_jobs: Arc<HashMap<JobId, JobInfoCache>>,
        executors: Option<HashSet<String>>,
    ) -> Result<Vec<BoundTask>> {
        let bound = self
            .inner
            .bind_schedulable_tasks(distribution, active_jobs, executors)
            .await?;
        let mut book = self.book();
        for (executor, task) in &bound {
            let key = (task.key.job_id.clone(), task.key.stage_id, task.key.task_id);
            book.bind(executor, key, task.vcores_consumed);
        }
        Ok(bound)
    }

    async fn unbind_tasks(&self, executor_slots: Vec<ExecutorSlot>) -> Result<()> {
        self.returned(&executor_slots);
        self.inner.unbind_tasks(executor_slots).await
    }

    async fn register_executor(
        &self,
        metadata: ExecutorMetadata,
        spec: ExecutorData,
    ) -> Result<()> {
        self.inner.register_executor(metadata, spec).await
    }

    async fn save_executor_metadata(&self, metadata: ExecutorMetadata) -> Result<()> {
        self.inner.save_executor_metadata(metadata).await
    }

    async fn get_executor_metadata(&self, executor_id: &str) -> Result<ExecutorMetadata> {
        self.inner.get_executor_metadata(executor_id).await
    }

    async fn registered_executor_metadata(&self) -> Vec<ExecutorMetadata> {
        self.inner.registered_executor_metadata().await
    }

    async fn save_executor_heartbeat(&self, heartbeat: ExecutorHeartbeat) -> Result<()> {
        self.inner.save_executor_heartbeat(heartbeat).await
    }

    /// Cancels the running jobs the executor had tasks of; Ballista posts the loss itself only
    /// after this returns, so no lost work is rerun.
    async fn remove_executor(&self, executor_id: &str) -> Result<()> {
        let jobs = {
            let mut book = self.book();
            book.bound.remove(executor_id);
            book.tasks
                .retain(|_, (executor, _, _)| executor != executor_id);
            book.changes += 1;
            book.jobs.remove(executor_id).unwrap_or_default()
        };
        if let Some(scheduler) = self.scheduler.get() {
            let running = scheduler.state.task_manager.get_running_job_cache();
            for job in jobs.into_keys().filter(|job| running.contains_key(job)) {
                log::warn!(
                    "job {job} cancelled: executor {executor_id} was lost while it ran, and \
                     Ballista 55 can count rerun work twice; run the query again"
                );
                scheduler.cancel_job(job).await?;
            }
        }
        self.inner.remove_executor(executor_id).await
    }

    fn executor_heartbeats(&self) -> HashMap<String, ExecutorHeartbeat> {
        self.inner.executor_heartbeats()
    }

    fn get_executor_heartbeat(&self, executor_id: &str) -> Option<ExecutorHeartbeat> {
        self.inner.get_executor_heartbeat(executor_id)
    }

    async fn cluster_state_events(&self) -> Result<ClusterStateEventStream> {
        self.inner.cluster_state_events().await
    }
}

type Scheduler = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// Every second: slots an executor holds with no running task behind them, on two checks in a
/// row with no bind or return in between, go back to it, and the scheduler offers them again.
pub async fn give_back_leaked_slots(ledger: Arc<SlotLedger>, scheduler: Scheduler) {
    let mut suspect: Option<(u64, HashMap<String, u32>)> = None;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (changes, excess) = ledger.unaccounted(&running(&scheduler).await);
        let confirmed = match suspect.take() {
            Some((before, earlier)) if before == changes => excess
                .iter()
                .filter_map(|(executor, &n)| {
                    let n = n.min(earlier.get(executor).copied().unwrap_or(0));
                    (n > 0 && alive(&scheduler, executor)).then(|| (executor.clone(), n))
                })
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        if !excess.is_empty() {
            suspect = Some((changes, excess));
        }
        if confirmed.is_empty() {
            continue;
        }
        suspect = None;
        for (executor, n) in &confirmed {
            log::warn!(
                "executor {executor}: {n} task slot(s) held after their tasks ended (a stage \
                 was rolled back or its job ended); given back"
            );
        }
        if let Err(e) = ledger.unbind_tasks(confirmed.clone()).await {
            log::error!("could not give task slots back: {e}");
            continue;
        }
        // An empty status update from the executor is what makes the scheduler offer its
        // free slots again (there is no public way to ask for that directly).
        let (executor_id, _) = &confirmed[0];
        let update = UpdateTaskStatusParams {
            executor_id: executor_id.clone(),
            task_status: Vec::new(),
        };
        if let Err(e) = scheduler
            .update_task_status(tonic::Request::new(update))
            .await
        {
            log::error!("could not offer the slots given back: {e}");
        }
    }
}

/// The running jobs, and the tasks their graphs show as running.
async fn running(scheduler: &Scheduler) -> Running {
    let jobs = scheduler.state.task_manager.get_running_job_cache();
    let mut running = Running {
        jobs: jobs.keys().cloned().collect(),
        ..Running::default()
    };
    for job in jobs.values() {
        let graph = job.execution_graph.read().await;
        for task in graph.running_tasks() {
            let key = (task.job_id, task.stage_id, task.task_id);
            running.tasks.insert(key, task.executor_id);
        }
    }
    running
}

fn alive(scheduler: &Scheduler, executor: &str) -> bool {
    scheduler
        .state
        .executor_manager
        .get_executor_hearbeat(executor)
        .is_some_and(|h| {
            !matches!(
                h.status.and_then(|s| s.status),
                Some(ballista_core::serde::protobuf::executor_status::Status::Dead(_))
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(job: &str, stage: usize, id: usize) -> TaskRef {
        (JobId::from(job), stage, id)
    }

    /// `tasks` running on `executor`, in `jobs`.
    fn running(executor: &str, tasks: &[TaskRef], jobs: &[&JobId]) -> Running {
        Running {
            tasks: tasks
                .iter()
                .map(|t| (t.clone(), executor.to_string()))
                .collect(),
            jobs: jobs.iter().map(|j| (*j).clone()).collect(),
        }
    }

    #[test]
    fn slots_of_tasks_no_longer_running_are_unaccounted_on_later_checks_only() {
        let mut book = Book::default();
        let job = JobId::from("job-1");
        book.bind("kept", task("job-1", 1, 0), 1);
        book.bind("kept", task("job-1", 2, 0), 2);
        // Bound after the graph was read: not yet running there, and not counted against.
        let (_, excess) = book.unaccounted(&running("kept", &[], &[&job]));
        assert_eq!(excess, HashMap::from([("kept".to_string(), 3)]));
        // Both running: everything accounted for.
        let both = running("kept", &[task("job-1", 1, 0), task("job-1", 2, 0)], &[&job]);
        assert!(book.unaccounted(&both).1.is_empty());
        // The stage-2 task's stage was rolled back and its status returned nothing: its two
        // slots are held with no task behind them.
        let one = running("kept", &[task("job-1", 1, 0)], &[&job]);
        let (changes, excess) = book.unaccounted(&one);
        assert_eq!(excess, HashMap::from([("kept".to_string(), 2)]));
        assert_eq!(book.unaccounted(&one), (changes, excess));
        // A status that returns the slot, as Ballista's does when the graph still knows it.
        book.bound.insert("kept".to_string(), 1);
        assert!(book.unaccounted(&one).1.is_empty());
    }

    #[test]
    fn an_executors_jobs_are_kept_while_they_run_or_were_just_bound() {
        let mut book = Book::default();
        let b = JobId::from("b");
        book.bind("e", task("a", 0, 0), 1);
        book.unaccounted(&Running::default());
        book.bind("e", task("b", 0, 0), 1);
        // `a` has ended; `b` was bound after the running jobs were read.
        book.unaccounted(&Running::default());
        let jobs: HashSet<&JobId> = book.jobs["e"].keys().collect();
        assert_eq!(jobs, HashSet::from([&b]));
        book.unaccounted(&running("e", &[], &[&b]));
        assert!(book.jobs["e"].contains_key(&b));
    }
}
