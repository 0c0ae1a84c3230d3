//! `trailscope check`: every control over an archive and configuration snapshots → findings.
//! `trailscope lint`: every control's metadata and SQL checked without running it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::archive_args::ArchiveArgs;
use super::output::{format_parser, open_output, short};
use super::progress::Progress;
use trailscope::controls::{self, ParamValues, Report, Status, params::check_override_names};
use trailscope::error::{Error, Result};
use trailscope::output::{Column, FormatDef, records, write_all};
use trailscope::snapshot::Snapshot;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// A configuration snapshot (repeat for several accounts or dates).
    #[arg(long = "snapshot", short = 's', value_name = "FILE")]
    pub snapshots: Vec<PathBuf>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// How findings are printed: `table` for people (evidence shortened; jsonl has all of it),
    /// or any result format (jsonl embeds the evidence as JSON).
    #[arg(long, default_value = "table", value_parser = format_parser())]
    pub format: &'static FormatDef,
    /// Write findings to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[cfg(feature = "cluster")]
    #[command(flatten)]
    pub cluster: super::cluster::ScanOnCluster,
}

/// Which controls run, and with which parameters (`check` and `report`).
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// A directory of your own controls (<ID>.sql + <ID>.json); same id replaces a built-in.
    #[arg(long = "controls", value_name = "DIR")]
    pub controls: Vec<PathBuf>,
    /// Only controls whose id contains this text (repeat to widen), e.g. --only ALARM.
    #[arg(long, value_name = "TEXT")]
    pub only: Vec<String>,
    /// A control parameter, over the snapshot profile: --param required_retention_days=400.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_override)]
    pub params: Vec<(String, String)>,
}

impl CatalogArgs {
    /// The chosen controls, and the parameter values over `snapshots`' profiles.
    pub fn resolve(&self, snapshots: &[Snapshot]) -> Result<(Vec<controls::Control>, ParamValues)> {
        let catalog = controls::catalog(&self.controls)?;
        check_override_names(self.params.iter().map(|(k, _)| k.as_str()), &catalog)
            .map_err(|e| Error::usage(format!("--param: {e}")))?;
        let chosen = select(catalog, &self.only)?;
        let overrides: BTreeMap<String, String> = self.params.iter().cloned().collect();
        Ok((chosen, ParamValues::new(overrides, snapshots)))
    }
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Directories of your own controls to lint with the built-ins.
    #[arg(long = "controls", value_name = "DIR")]
    pub controls: Vec<PathBuf>,
    /// Sigma rule files or folders to lint with trailscope's own pack.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
}

fn select(all: Vec<controls::Control>, only: &[String]) -> Result<Vec<controls::Control>> {
    if only.is_empty() {
        return Ok(all);
    }
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|c| only.iter().any(|o| c.meta.id.contains(o.as_str())))
        .collect();
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "--only {}: no control id contains that; see `trailscope lint` for the catalog",
            only.join(", ")
        )));
    }
    Ok(chosen)
}

pub async fn run(args: CheckArgs, quiet: bool) -> Result<u8> {
    let snapshots = Snapshot::load_all(&args.snapshots)?;
    let (chosen, values) = args.catalog.resolve(&snapshots)?;
    let source = args.archive.open().await?;
    #[cfg(feature = "cluster")]
    let source = args.cluster.apply(source).await?;
    let mut out = open_output(args.output.as_deref(), source.location.local_dir.as_deref())?;
    let report = {
        let _progress = Progress::start(source.stats.clone(), quiet);
        controls::check(&source, &snapshots, &chosen, &values).await?
    };
    write_findings(out.as_mut(), args.format, &report, args.output.is_some())?;
    if !quiet {
        eprintln!("{}", summary(&report, chosen.len()));
        for (id, why) in &report.errors {
            eprintln!("trailscope: warning: control {id} could not run: {why}");
        }
    }
    let partial = super::query::report_read_errors(&source, quiet);
    Ok(u8::from(report.failed() > 0).max(partial))
}

fn summary(report: &Report, controls: usize) -> String {
    let failing: std::collections::BTreeSet<&str> = report
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .map(|f| f.control_id.as_str())
        .collect();
    format!(
        "{controls} controls: {} failing ({} fail findings), {} inconclusive, {} pass findings",
        failing.len(),
        report.failed(),
        report.count(Status::Inconclusive),
        report.count(Status::Pass)
    )
}

/// Findings through the output seam. The table is for people: shortened columns, the control
/// id without its common prefix.
fn write_findings(
    out: &mut (dyn Write + Send),
    format: &'static FormatDef,
    report: &Report,
    to_file: bool,
) -> Result<()> {
    let batch = if format.name == "table" {
        let columns = [
            "status", "severity", "control", "resource", "account", "region", "evidence",
        ]
        .map(|c| (c, Column::Text));
        records(
            &columns,
            report.findings.iter().map(|f| {
                let id = f
                    .control_id
                    .strip_prefix("CTL.CLOUDTRAIL.")
                    .unwrap_or(&f.control_id);
                vec![
                    Some(f.status.as_str().to_string()),
                    Some(f.severity.as_str().to_string()),
                    Some(short(id, 44)),
                    Some(short(&f.resource, 40)),
                    Some(f.account_id.clone().unwrap_or_else(|| "-".into())),
                    Some(f.region.clone().unwrap_or_else(|| "-".into())),
                    Some(short(&f.evidence, 100)),
                ]
            }),
        )?
    } else {
        controls::run::findings_records(&report.findings)?
    };
    write_all(format, out, &batch.schema(), &[batch], to_file)
}

pub async fn lint(args: LintArgs) -> Result<u8> {
    let all = controls::catalog(&args.controls)?;
    let mut problems = controls::lint::lint_catalog(&all).await?;
    let rules =
        trailscope::detect::load::load(&trailscope::detect::load::gather(true, &args.rules)?);
    problems.extend(trailscope::detect::lint::lint_rules(&rules).await?);
    for p in &problems {
        println!("{p}");
    }
    eprintln!(
        "{} controls, {}; {} problem{}",
        all.len(),
        rules.summary(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Ok(if problems.is_empty() { 0 } else { 1 })
}

/// Parses `--param k=v`.
pub fn parse_override(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "{s:?}: use --param name=value, e.g. --param bulk_delete_threshold=10"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_overrides_need_a_name_and_a_value() {
        assert!(parse_override("a=1").is_ok() && parse_override("a").is_err());
    }
}
