//! Ballista's scheduler and executor processes, started with trailscope's functions and codec:
//! the scheduler decodes our tables and plans with our SQL functions; executors decode and run
//! plans that call them. Both read the lake through object stores made from the URL (local
//! files, or S3 with the standard AWS environment variables); executors open a raw archive the
//! same way (`raw::StoreAddress`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use object_store::ObjectStore;
use url::Url;

use super::codec::{TrailscopeCodec, TrailscopePhysicalCodec};
use super::slots::{SlotLedger, give_back_leaked_slots};
use crate::error::{Error, Result};

/// Plans and results larger than Ballista's 16 MiB default travel between client, scheduler and
/// executors: a lake's file list and shipped tables are part of the plan.
pub const MAX_MESSAGE_BYTES: u32 = 1 << 30;

/// Our functions and settings, with the configuration a client sent.
fn session_state(mut config: SessionConfig) -> datafusion::error::Result<SessionState> {
    // Off in the plan a client sends, because it cannot cross protobuf (see `remote_with`); on
    // for the scheduler's own planning, which keeps the plan in process.
    config
        .options_mut()
        .optimizer
        .enable_leaf_expression_pushdown = true;
    let base = crate::table::base_session()
        .map_err(datafusion::error::DataFusionError::from)?
        .state();
    let functions = base.scalar_functions().clone();
    let mut state = SessionStateBuilder::new_from_existing(base)
        .with_config(config)
        .with_runtime_env(runtime_env()?)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .with_physical_optimizer_rule(Arc::new(
            super::union_aggregates::PartialAggregatesIntoUnionBranches,
        ))
        .build();
    crate::table::keep_own_names(&functions, |f| {
        datafusion::execution::FunctionRegistry::register_udf(&mut state, f).map(|_| ())
    })?;
    Ok(state)
}

fn runtime_env() -> datafusion::error::Result<Arc<RuntimeEnv>> {
    RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(LakeStores::default()))
        .build_arc()
}

/// Local files, plus one S3 store per bucket made on first use from the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT_URL_S3`, an instance or task role, ...).
#[derive(Debug, Default)]
struct LakeStores {
    fixed: DefaultObjectStoreRegistry,
    buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl ObjectStoreRegistry for LakeStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.fixed.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if url.scheme() != "s3" {
            return self.fixed.get_store(url);
        }
        let bucket = url.host_str().unwrap_or_default().to_string();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = buckets.get(&bucket) {
            return Ok(Arc::clone(store));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&bucket);
        // An S3-compatible endpoint, named as the AWS tools name it (and as `--endpoint-url`
        // reads it): path-style requests, plain HTTP allowed when the URL says so.
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_S3") {
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        // Lake reads retried like the client's (see `archive::retrying_store`).
        let store = crate::archive::retrying_store::ReadRetryingStore::wrap(
            Arc::new(builder.build()?),
            crate::archive::RetryPolicy::default(),
        );
        buckets.insert(bucket, Arc::clone(&store));
        Ok(store)
    }
}

fn ballista_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("{what}: {e}"))
}

/// A clear error when `addr` is taken, before Ballista tries it: its executor would log the
/// failure and exit 0 (as if stopped on purpose), its scheduler after saying it listens.
fn can_listen(process: &str, addr: SocketAddr, option: &str) -> Result<()> {
    std::net::TcpListener::bind(addr).map(drop).map_err(|e| {
        Error::Runtime(format!(
            "{process} cannot listen on {addr} ({e}): another process holds it; \
             choose another port with {option}"
        ))
    })
}

/// Runs a Ballista scheduler on `bind` until the process is stopped. An executor silent for
/// `executor_timeout` seconds is taken for dead and its tasks are run again elsewhere.
pub async fn run_scheduler(bind: SocketAddr, executor_timeout: u64) -> Result<()> {
    let host = if bind.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        bind.ip().to_string()
    };
    let mut config = SchedulerConfig::default()
        .with_hostname(host)
        .with_port(bind.port())
        .with_grpc_server_max_decoding_message_size(MAX_MESSAGE_BYTES)
        .with_grpc_server_max_encoding_message_size(MAX_MESSAGE_BYTES)
        .with_grpc_client_max_message_size(MAX_MESSAGE_BYTES)
        .with_override_session_builder(Arc::new(session_state));
    config.bind_host = bind.ip().to_string();
    config.executor_timeout_seconds = executor_timeout;
    // Looked for at least three times per timeout (Ballista's default: every 15 s).
    config.expire_dead_executor_interval_seconds = (executor_timeout / 3).clamp(1, 15);
    config.no_executors_grace_period_seconds = executor_timeout;
    config.override_logical_codec = Some(Arc::new(TrailscopeCodec::default()));
    config.override_physical_codec = Some(Arc::new(TrailscopePhysicalCodec::default()));
    can_listen("scheduler", bind, "--bind")?;
    config
        .validate()
        .map_err(|e| ballista_error("scheduler", e))?;
    let in_memory = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| ballista_error("scheduler", e))?;
    let ledger = Arc::new(SlotLedger::new(in_memory.cluster_state()));
    let cluster = BallistaCluster::new(ledger.clone(), in_memory.job_state());
    let scheduler = create_scheduler(cluster, Arc::new(config))
        .await
        .map_err(|e| ballista_error("scheduler", e))?;
    ledger.serve(scheduler.clone());
    tokio::spawn(give_back_leaked_slots(ledger, scheduler.clone()));
    eprintln!("trailscope: Ballista scheduler listening on {bind}");
    start_grpc_service(bind, scheduler)
        .await
        .map_err(|e| ballista_error(&format!("scheduler on {bind}"), e))
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: (String, u16),
    /// Arrow Flight (results and shuffles) on this address.
    pub bind: SocketAddr,
    /// The port the scheduler pushes tasks to.
    pub grpc_port: u16,
    /// Tasks run at once (0: one per core).
    pub concurrency: usize,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_seconds: u64,
}

/// Runs a Ballista executor until the process is stopped.
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let base = crate::table::base_session()?.state();
    let runtime = runtime_env()?;
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        port: options.bind.port(),
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.0.clone(),
        scheduler_port: options.scheduler.1,
        // Executors may start before their scheduler: keep trying for a while.
        scheduler_connect_timeout_seconds: 60,
        vcores: options.concurrency,
        executor_heartbeat_interval_seconds: options.heartbeat_seconds,
        grpc_max_decoding_message_size: MAX_MESSAGE_BYTES,
        grpc_max_encoding_message_size: MAX_MESSAGE_BYTES,
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&base))),
        override_runtime_producer: Some(Arc::new(move |_| Ok(Arc::clone(&runtime)))),
        override_logical_codec: Some(Arc::new(TrailscopeCodec::default())),
        override_physical_codec: Some(Arc::new(TrailscopePhysicalCodec::default())),
        // A line per task on stderr (without Ballista's connection pool for shuffle reads,
        // which its engine keeps private).
        override_execution_engine: Some(Arc::new(super::task_log::LoggingEngine::default())),
        ..ExecutorProcessConfig::default()
    };
    let task_addr = SocketAddr::new(options.bind.ip(), options.grpc_port);
    can_listen("executor", options.bind, "--bind")?;
    can_listen("executor", task_addr, "--grpc-port")?;
    eprintln!(
        "trailscope: Ballista executor on {} (tasks on port {}), scheduler {}:{}",
        options.bind, options.grpc_port, options.scheduler.0, options.scheduler.1
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ballista_error("executor", e))
}
