//! The command line: argument definitions, one file per subcommand, and printing.
//!
//! Nothing here decides anything about CloudTrail; it parses, calls the library, prints, and maps
//! the outcome to an exit code (0 ok, 1 findings or invalid evidence, 2 usage or runtime error).

pub mod archive_args;
pub mod check;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod compact;
pub mod convert;
pub mod detect;
pub mod gaps;
pub mod generate;

pub mod output;
pub mod progress;
pub mod query;
pub mod report;
pub mod shell;
pub mod snapshot;
pub mod tables;
pub mod trace;
pub mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use trailscope::error::{Error, Input};

#[derive(Debug, Parser)]
#[command(
    name = "trailscope",
    version,
    about = "SQL over AWS CloudTrail log archives: ad-hoc queries, controls and trail forensics",
    after_help = "Exit codes: 0 ok; 1 findings or invalid evidence (e.g. unreadable objects with --strict); 2 usage or runtime error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress or summaries on stderr; results and errors only.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run SQL over an archive and print the result.
    Query(query::QueryArgs),
    /// Interactive SQL prompt over an archive.
    Shell(shell::ShellArgs),
    /// List the tables and their columns.
    Tables(tables::TablesArgs),
    /// Write a realistic synthetic archive (with signed digests) for tests and demos.
    Generate(generate::GenerateArgs),
    /// Validate digest chains and log files (signatures, hashes, missing, moved, unlisted files).
    Verify(verify::VerifyArgs),
    /// Find delivery gaps per account and region and classify them with evidence.
    Gaps(gaps::GapsArgs),
    /// Convert an archive's log files to a Parquet lake (incremental; query it with --lake).
    Convert(convert::ConvertArgs),
    /// Merge a lake's small data files into larger ones (same rows; fewer files to open).
    Compact(compact::CompactArgs),
    /// Run Sigma detection rules (our pack and yours) over an archive: a timeline of hits.
    Detect(detect::DetectArgs),
    /// Who is really behind a key, principal, session or event: credential chains to their
    /// origin, and everything done with what a key issued (its blast radius).
    Trace(trace::TraceArgs),
    /// Evaluate the control catalog over an archive and configuration snapshots.
    Check(check::CheckArgs),
    /// A period's compliance report: controls, integrity, activity, evidence manifest.
    Report(report::ReportArgs),
    /// Check every control's and detection rule's metadata and SQL without running them.
    Lint(check::LintArgs),
    /// Capture a configuration snapshot: AWS API answers as the AWS CLI prints them.
    Snapshot(snapshot::SnapshotArgs),
    /// Run an Apache DataFusion Ballista scheduler or executor for `query --cluster`.
    #[cfg(feature = "cluster")]
    Cluster(cluster::ClusterArgs),
}

/// Entry point for the binary: parse, run, report.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A bug is one line asking for a report, never a stack trace; where it happened while
    // decoding an object, the object is also named with the rest of the unreadable ones.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "trailscope: internal error{at}: {}; please report it",
            message.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(feature = "cluster")]
    builder.thread_stack_size(trailscope::cluster::THREAD_STACK_BYTES);
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => return fail(&Error::io("tokio runtime", e)),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Query(args) => query::run(args, cli.quiet).await,
            Command::Shell(args) => shell::run(args, cli.quiet).await,
            Command::Tables(args) => tables::run(args).await,
            Command::Generate(args) => generate::run(args, cli.quiet),
            Command::Verify(args) => verify::run(args, cli.quiet).await,
            Command::Gaps(args) => gaps::run(args, cli.quiet).await,
            Command::Check(args) => check::run(args, cli.quiet).await,
            Command::Detect(args) => detect::run(args, cli.quiet).await,
            Command::Trace(args) => trace::run(args, cli.quiet).await,
            Command::Report(args) => report::run(args, cli.quiet).await,
            Command::Convert(args) => convert::run(args, cli.quiet).await,
            Command::Compact(args) => compact::run(args, cli.quiet).await,
            Command::Lint(args) => check::lint(args).await,
            Command::Snapshot(args) => snapshot::run(args, cli.quiet).await,
            #[cfg(feature = "cluster")]
            Command::Cluster(args) => cluster::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    if is_broken_pipe(e) {
        // `trailscope query ... | head` is normal use, not an error.
        return ExitCode::SUCCESS;
    }
    match e {
        Error::Input {
            input,
            value,
            reason,
        } => eprintln!("trailscope: error: {} {value}: {reason}", option(*input)),
        Error::NoCredentials(cause) => eprintln!("trailscope: error: {}", no_credentials(cause)),
        _ => eprintln!("trailscope: error: {e}"),
    }
    ExitCode::from(e.exit_code())
}

/// What to do when the AWS SDK found no credentials, with the options that fix it.
pub(crate) fn no_credentials(cause: &str) -> String {
    format!(
        "no AWS credentials ({cause}): give --public-keys FILE (from `aws cloudtrail \
         list-public-keys --output json`), or set a profile (--profile or AWS_PROFILE)"
    )
}

/// The option through which the user gives each input the library may name.
fn option(input: Input) -> &'static str {
    match input {
        Input::Lake => "--lake",
        Input::PublicKeys => "--public-keys",
        Input::Signatures => "--signatures",
        Input::Controls => "--controls",
        Input::Regions => "--regions",
        Input::EndpointUrl => "--endpoint-url",
        Input::Cluster => "--cluster",
        Input::Profile => "--profile",
    }
}

fn is_broken_pipe(e: &Error) -> bool {
    match e {
        Error::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
        _ => false,
    }
}
