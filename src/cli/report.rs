//! `trailscope report`: a period's compliance report (controls, integrity, activity, manifest).

use std::io::Write;
use std::path::PathBuf;

use chrono::Duration;
use clap::{Args, ValueEnum};

use super::archive_args::ArchiveArgs;
use super::check::CatalogArgs;
use super::detect::RuleArgs;
use super::output::open_output;
use super::progress::Progress;
use trailscope::error::{Error, Result};
use trailscope::integrity::{KeyRing, KeySource, load_signatures};
use trailscope::report::render::{self, Format};
use trailscope::report::{self, ComplianceReport, Framework, Period, ReportInputs};
use trailscope::snapshot::Snapshot;
use trailscope::table::ScanStats;
use trailscope::time::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained page with charts; prints to PDF.
    Html,
    /// Markdown for a ticket or a wiki.
    Md,
    /// The whole report, stable and documented.
    Json,
    /// One finding per row.
    Csv,
    /// OCSF Compliance Finding objects, one per line, for a SIEM.
    Ocsf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// The period: a month (2026-10), a quarter (2026-Q4) or a year; or give --from and --to.
    #[arg(long, value_name = "PERIOD", conflicts_with_all = ["from", "to"])]
    pub period: Option<String>,
    /// Configuration snapshots (`trailscope snapshot`; repeat for several accounts).
    #[arg(long = "snapshot", short = 's', value_name = "FILE")]
    pub snapshots: Vec<PathBuf>,
    /// Frameworks to summarize: cis, nist, pci, soc2, hipaa, iso27001, fedramp or all.
    #[arg(long, value_name = "LIST", default_value = "all")]
    pub framework: String,
    /// A previous report's JSON (`--format json`): what is new, resolved and unchanged since.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Write the report here (otherwise stdout).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Leave out the detections section (by default trailscope's Sigma pack, unless
    /// --no-builtin-rules, and any --rules run over the period's scan).
    #[arg(long, conflicts_with = "rules")]
    pub no_detections: bool,
    /// The detections section, which is on by default (kept for scripts that ask for it).
    #[arg(long, hide = true, conflicts_with = "no_detections")]
    pub detections: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[cfg(feature = "cluster")]
    #[command(flatten)]
    pub cluster: super::cluster::ScanOnCluster,
    /// Public keys (`aws cloudtrail list-public-keys --output json`) to check digest signatures.
    #[arg(long, value_name = "FILE", conflicts_with = "list_public_keys")]
    pub public_keys: Option<PathBuf>,
    /// Fetch the public keys with cloudtrail:ListPublicKeys (needs AWS credentials).
    #[arg(long)]
    pub list_public_keys: bool,
    /// Digest signatures a local copy lost with the S3 metadata (as for `verify`).
    #[arg(long, value_name = "FILE")]
    pub signatures: Option<PathBuf>,
    /// Deliveries further apart than this are a gap.
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = parse_duration)]
    pub gap_threshold: Duration,
}

pub async fn run(args: ReportArgs, quiet: bool) -> Result<u8> {
    let period = match (&args.period, args.archive.from, args.archive.to) {
        (Some(p), _, _) => Period::parse(p).map_err(|e| Error::usage(format!("--period {e}")))?,
        (None, Some(from), Some(to)) => Period::between(from, to),
        _ => {
            return Err(Error::usage(
                "give the report's period: --period 2026-10 (or 2026-Q4), or --from and --to",
            ));
        }
    };
    let frameworks = Framework::parse_list(&args.framework)
        .map_err(|e| Error::usage(format!("--framework {e}")))?;
    let mut snapshots = Vec::new();
    for path in &args.snapshots {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
        let text = String::from_utf8_lossy(&bytes);
        let snapshot = Snapshot::parse(&text, &path.display().to_string())?;
        snapshots.push((path.display().to_string(), snapshot, bytes));
    }
    let loaded: Vec<Snapshot> = snapshots.iter().map(|(_, s, _)| s.clone()).collect();
    let (controls, values) = args.catalog.resolve(&loaded)?;
    let keys = match (&args.public_keys, args.list_public_keys) {
        (Some(path), _) => KeySource::Ring(KeyRing::from_file(path)?),
        (None, true) => KeySource::ListPublicKeys(args.archive.s3_options()),
        (None, false) => KeySource::Skip,
    };
    let signatures = match &args.signatures {
        Some(path) => load_signatures(path)?,
        None => Default::default(),
    };
    let baseline = args.baseline.as_ref().map(read_baseline).transpose()?;
    let rules =
        if args.no_detections || (args.rules.no_builtin_rules && args.rules.rules.is_empty()) {
            None
        } else {
            let set = args.rules.load()?;
            super::detect::say_loaded(&set, false, quiet);
            Some(set)
        };

    let mut source = args.archive.open().await?;
    source.archive.scope.from = Some(period.from);
    source.archive.scope.to = Some(period.to);
    #[cfg(feature = "cluster")]
    let source = args.cluster.apply(source).await?;
    let mut out = open_output(args.output.as_deref(), source.location.local_dir.as_deref())?;
    let inputs = ReportInputs {
        period,
        archive: args.archive.archive.clone(),
        snapshots,
        controls,
        values,
        frameworks,
        keys,
        signatures,
        gap_threshold: args.gap_threshold,
        baseline,
        rules,
    };
    let built = {
        let _progress = Progress::start(source.stats.clone(), quiet);
        report::build(&source, &inputs).await?
    };
    let format = match args.format {
        ReportFormat::Html => Format::Html,
        ReportFormat::Md => Format::Markdown,
        ReportFormat::Json => Format::Json,
        ReportFormat::Csv => Format::Csv,
        ReportFormat::Ocsf => Format::Ocsf,
    };
    let bytes = render::render(&built, format)?;
    let target = args
        .output
        .as_ref()
        .map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    out.write_all(&bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(&target, e))?;
    if !quiet {
        let s = &built.summary;
        eprintln!(
            "report {}: {} controls: {} failing, {} inconclusive, {} passing; integrity {}; {} events; {} unreadable objects; sha256 {}",
            built.period.label,
            s.controls,
            s.failing,
            s.inconclusive,
            s.passing,
            if s.integrity_valid {
                "valid"
            } else {
                "NOT valid"
            },
            s.events,
            s.read_errors,
            built.manifest.report_sha256.as_deref().unwrap_or("")
        );
        let hashed = ScanStats::get(&source.stats.objects_hashed_elsewhere);
        if hashed > 0 {
            eprintln!(
                "report {}: {hashed} log files hashed on the cluster",
                built.period.label
            );
        }
    }
    let partial = super::query::report_read_errors(&source, quiet);
    let strict_failure = source.strict && built.summary.read_errors > 0;
    Ok(u8::from(has_findings(&built) || strict_failure).max(partial))
}

/// Failing controls or broken evidence make exit code 1, as for `check` and `verify`.
fn has_findings(report: &ComplianceReport) -> bool {
    report.summary.failing > 0 || !report.summary.integrity_valid
}

fn read_baseline(path: &PathBuf) -> Result<ComplianceReport> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let report: ComplianceReport = serde_json::from_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "--baseline {}: not a trailscope report in JSON ({e}); give the output of `trailscope report --format json`",
            path.display()
        ))
    })?;
    if report.format != report::FORMAT {
        return Err(Error::usage(format!(
            "--baseline {}: format {:?}, this trailscope reads {:?}",
            path.display(),
            report.format,
            report::FORMAT
        )));
    }
    Ok(report)
}
