//! `trailscope cluster scheduler|executor`: Ballista's processes with trailscope's functions and
//! tables, for `--cluster df://host:port` (feature `cluster`), and the `--cluster` option of the
//! commands whose scan runs there.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::{Args, Subcommand};

use trailscope::cluster::ClusterSession;
use trailscope::cluster::remote::{ClusterReadings, RemoteCloudTrail};
use trailscope::cluster::server::{self, ExecutorOptions};
use trailscope::error::{Error, Result};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler: clients connect to it with --cluster df://HOST:PORT.
    Scheduler {
        /// Address to listen on.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// Seconds without a heartbeat before an executor is taken for dead: its tasks then run
        /// again on the others (until then a query it was running waits). Must be longer than
        /// the executors' --heartbeat.
        #[arg(long, value_name = "SECS", default_value_t = 180)]
        executor_timeout: u64,
        #[command(flatten)]
        log: BallistaLog,
    },
    /// Run a Ballista executor for a scheduler. It reads the archive and the lake itself (and
    /// writes the lake for `convert --cluster`): the same paths as the client's, or S3
    /// credentials (and AWS_ENDPOINT_URL_S3 for an S3-compatible store) in its environment.
    Executor {
        /// The scheduler's address.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Address for results and shuffles (Arrow Flight).
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
        bind: SocketAddr,
        /// Port the scheduler sends tasks to (on the --bind host).
        #[arg(long, value_name = "PORT", default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (0: one per core).
        #[arg(long, value_name = "N", default_value_t = 0)]
        concurrency: usize,
        /// Seconds between heartbeats to the scheduler (shorter than its --executor-timeout).
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        heartbeat: u64,
        #[command(flatten)]
        log: BallistaLog,
    },
}

pub async fn run(args: ClusterArgs) -> Result<u8> {
    match args.command {
        ClusterCommand::Scheduler {
            bind,
            executor_timeout,
            log,
        } => {
            log.install();
            server::run_scheduler(bind, positive(executor_timeout, "--executor-timeout")?).await?
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            grpc_port,
            concurrency,
            heartbeat,
            log,
        } => {
            log.install();
            if grpc_port == bind.port() {
                return Err(Error::usage(format!(
                    "--grpc-port {grpc_port} is also the port of --bind {bind}: an executor \
                     listens on two ports, give it two different ones"
                )));
            }
            server::run_executor(ExecutorOptions {
                scheduler: host_port(&scheduler)?,
                bind,
                grpc_port,
                concurrency,
                heartbeat_seconds: positive(heartbeat, "--heartbeat")?,
            })
            .await?
        }
    }
    Ok(0)
}

/// What Ballista itself says (an executor lost, a task failed and run again, a job failed), on
/// stderr after trailscope's own lines.
#[derive(Debug, Args)]
pub struct BallistaLog {
    /// Ballista's messages shown on stderr: at this level and above.
    #[arg(long = "log", value_name = "LEVEL", default_value = "warn")]
    level: log::LevelFilter,
}

impl BallistaLog {
    fn install(&self) {
        // Only fails when a logger is already set, and none is in this process.
        let _ = log::set_boxed_logger(Box::new(StderrLog(self.level)));
        log::set_max_level(self.level);
    }
}

/// The longest Ballista message shown whole below `--log debug`.
const MAX_LOG_LINE: usize = 600;

struct StderrLog(log::LevelFilter);

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.0
    }

    /// One line per message. Ballista puts whole plans, debug-formatted, in some errors (10 KB
    /// and more): below `debug` they are cut, saying how much was left out.
    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = record.level().as_str().to_ascii_lowercase();
        let mut message = record.args().to_string().replace('\n', " ");
        if self.0 < log::LevelFilter::Debug && message.len() > MAX_LOG_LINE {
            let cut = message.floor_char_boundary(MAX_LOG_LINE);
            let left_out = message.len() - cut;
            message.truncate(cut);
            message.push_str(&format!(
                " ... ({left_out} more bytes; --log debug shows all)"
            ));
        }
        eprintln!("trailscope: {level} ({}): {message}", record.target());
    }

    fn flush(&self) {}
}

fn positive(seconds: u64, option: &str) -> Result<u64> {
    if seconds == 0 {
        return Err(Error::usage(format!(
            "{option} 0: give a number of seconds of at least 1"
        )));
    }
    Ok(seconds)
}

fn host_port(s: &str) -> Result<(String, u16)> {
    s.rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_string(), port.parse().ok()?)))
        .filter(|(host, _)| !host.is_empty())
        .ok_or_else(|| {
            Error::usage(format!(
                "--scheduler {s}: give the scheduler as HOST:PORT, e.g. 127.0.0.1:50050"
            ))
        })
}

/// `--cluster URL` of the commands whose scan of `cloudtrail` can run on a cluster.
#[derive(Debug, Args, Default)]
pub struct ScanOnCluster {
    /// Scan `cloudtrail` on an Apache DataFusion Ballista cluster (`df://HOST:PORT`, a
    /// `trailscope cluster scheduler`): executors read the archive (and --lake) and send back
    /// the rows the checks need; the rest runs here.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
}

impl ScanOnCluster {
    /// `source` with its `cloudtrail` read on the cluster, when one was given. Call it once the
    /// source's scope is final: the client lists the archive for the cluster here.
    pub async fn apply(
        &self,
        mut source: trailscope::table::TableSource,
    ) -> Result<trailscope::table::TableSource> {
        let Some(url) = &self.cluster else {
            return Ok(source);
        };
        let local = datafusion::prelude::SessionContext::new();
        let session = Arc::new(ClusterSession::connect(url, local, &source, false).await?);
        let remote = RemoteCloudTrail::new(Arc::clone(&session)).await?;
        source.cloudtrail_elsewhere = Some(Arc::new(remote));
        source.readings_elsewhere = Some(Arc::new(ClusterReadings(session)));
        Ok(source)
    }
}
