//! `trailscope detect`: Sigma rules (trailscope's own pack and `--rules`) over an archive, one
//! scan for all of them, hits as a timeline.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::archive_args::ArchiveArgs;
use super::output::{open_output, short};
use super::progress::Progress;
use trailscope::detect::{self, Level, RuleSet, load};
use trailscope::error::{Error, Result};
use trailscope::output::{Column, FORMATS, FormatDef, records, write_all};

#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// How hits are printed: `table`, a timeline for people; `html`, a self-contained timeline
    /// page (bursts per principal, filters by level and rule; with -o); or any result format
    /// (jsonl has every field, a correlation's events included).
    #[arg(long, default_value = "table", value_parser = detect_format_parser())]
    pub format: DetectFormat,
    /// Write hits to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the SQL a rule (id, name or title) compiles to, and stop.
    #[arg(long, value_name = "RULE")]
    pub show_sql: Option<String>,
    /// Name every skipped and failed rule with its reason.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    #[cfg(feature = "cluster")]
    #[command(flatten)]
    pub cluster: super::cluster::ScanOnCluster,
}

/// Which rules run.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Sigma rules: a file, or a folder searched for `.yml` files (a clone of SigmaHQ/sigma, a
    /// Suzaku checkout); repeat for several. Rules whose logsource is not aws/cloudtrail are
    /// left alone. trailscope's own pack runs too unless --no-builtin-rules.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave out trailscope's own pack (queries/detections/).
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Only rules of this level or above.
    #[arg(long, value_name = "LEVEL", default_value = "informational", value_parser = parse_level)]
    pub min_level: Level,
    /// Only rules of these statuses (stable, test, experimental, ...; repeat or comma-separate).
    #[arg(long = "status", value_name = "STATUS", value_delimiter = ',')]
    pub statuses: Vec<String>,
    /// Only rules with one of these tags (attack.t1562 also takes attack.t1562.008).
    #[arg(long = "tags", value_name = "TAG", value_delimiter = ',')]
    pub tags: Vec<String>,
}

/// `--format`: a row format, or the HTML timeline page.
#[derive(Debug, Clone, Copy)]
pub enum DetectFormat {
    Rows(&'static FormatDef),
    Html,
}

fn detect_format_parser() -> impl clap::builder::TypedValueParser<Value = DetectFormat> {
    use clap::builder::TypedValueParser;
    let html = clap::builder::PossibleValue::new("html")
        .help("a self-contained timeline page (needs -o FILE)");
    let rows = FORMATS.iter().map(|f| {
        clap::builder::PossibleValue::new(f.name)
            .help(f.about)
            .aliases(f.aliases)
    });
    clap::builder::PossibleValuesParser::new(rows.chain([html])).map(|name: String| {
        match trailscope::output::format(&name) {
            Some(f) => DetectFormat::Rows(f),
            None => DetectFormat::Html,
        }
    })
}

fn parse_level(s: &str) -> std::result::Result<Level, String> {
    Level::parse(s)
        .ok_or_else(|| format!("{s:?}: use informational, low, medium, high or critical"))
}

impl RuleArgs {
    /// Reads, compiles and selects the rules.
    pub fn load(&self) -> Result<RuleSet> {
        let files = load::gather(!self.no_builtin_rules, &self.rules)?;
        let mut set = load::load(&files);
        load::select(&mut set, self.min_level, &self.statuses, &self.tags);
        Ok(set)
    }
}

/// Prints what loading found: the counts always (unless quiet), names with `-v`.
pub fn say_loaded(set: &RuleSet, verbose: bool, quiet: bool) {
    if quiet {
        return;
    }
    let mut line = set.summary();
    if set.other_sources > 0 {
        line.push_str(&format!(
            " ({} for other log sources left alone)",
            set.other_sources
        ));
    }
    eprintln!("{line}");
    if verbose {
        for (rule, why) in &set.skipped {
            eprintln!("  skipped: {rule}: {why}");
        }
        for (origin, why) in &set.failed {
            eprintln!("  failed: {origin}: {why}");
        }
    } else if !set.skipped.is_empty() || !set.failed.is_empty() {
        eprintln!("  (-v names them with the reasons)");
    }
}

pub async fn run(args: DetectArgs, quiet: bool) -> Result<u8> {
    let set = args.rules.load()?;
    if let Some(wanted) = &args.show_sql {
        let sql = load::show_sql(&set, wanted).ok_or_else(|| {
            match set
                .skipped
                .iter()
                .find(|(r, _)| r.contains(wanted.as_str()))
            {
                Some((rule, why)) => {
                    Error::usage(format!("--show-sql {wanted}: {rule} is skipped: {why}"))
                }
                None => Error::usage(format!(
                    "--show-sql {wanted}: no loaded rule has that id, name or title"
                )),
            }
        })?;
        println!("{sql}");
        return Ok(0);
    }
    if matches!(args.format, DetectFormat::Html) && args.output.is_none() {
        return Err(Error::usage(
            "--format html writes a page: give -o FILE.html".to_string(),
        ));
    }
    say_loaded(&set, args.verbose, quiet);
    let runnable = set.runnable();
    let source = args.archive.open().await?;
    #[cfg(feature = "cluster")]
    let source = args.cluster.apply(source).await?;
    let mut out = open_output(args.output.as_deref(), source.location.local_dir.as_deref())?;
    let outcome = {
        let _progress = Progress::start(source.stats.clone(), quiet);
        detect::detect(&source, &runnable).await?
    };
    match args.format {
        DetectFormat::Html => {
            let context = detect::html::PageContext {
                archive: args.archive.archive.clone(),
                rules: set.summary(),
                events_scanned: trailscope::table::ScanStats::get(&source.stats.records),
            };
            out.write_all(detect::html::render(&outcome.hits, &context).as_bytes())
                .map_err(|e| Error::io("output", e))?;
        }
        DetectFormat::Rows(format) => {
            let batch = if format.name == "table" {
                timeline(&outcome.hits)?
            } else {
                detect::run::hits_records(&outcome.hits)?
            };
            write_all(
                format,
                out.as_mut(),
                &batch.schema(),
                &[batch],
                args.output.is_some(),
            )?;
        }
    }
    out.flush().map_err(|e| Error::io("output", e))?;
    if !quiet {
        let rules_hit: std::collections::BTreeSet<&str> =
            outcome.hits.iter().map(|h| h.rule_id.as_str()).collect();
        eprintln!(
            "{} detections from {} rules on {} events ({} matched a rule)",
            outcome.hits.len(),
            rules_hit.len(),
            trailscope::table::ScanStats::get(&source.stats.records),
            outcome.matched_events
        );
        for (rule, why) in &outcome.errors {
            eprintln!("trailscope: warning: rule {rule} could not run: {why}");
        }
    }
    let partial = super::query::report_read_errors(&source, quiet);
    let failed_rules = u8::from(!outcome.errors.is_empty()) * 2;
    Ok(u8::from(!outcome.hits.is_empty())
        .max(partial)
        .max(failed_rules))
}

/// The table for people: a timeline, one line per hit.
fn timeline(hits: &[detect::Hit]) -> Result<arrow::record_batch::RecordBatch> {
    let columns = [
        "time",
        "level",
        "rule",
        "event",
        "principal",
        "source ip",
        "account",
        "region",
        "events",
    ]
    .map(|c| (c, Column::Text));
    records(
        &columns,
        hits.iter().map(|h| {
            let e = &h.first;
            vec![
                e.eventtime.clone(),
                Some(h.level.as_str().to_string()),
                Some(short(&h.title, 48)),
                e.eventname.clone(),
                e.principal.as_deref().map(|p| short(p, 56)),
                e.sourceipaddress.clone(),
                e.account_id.clone(),
                e.region.clone(),
                Some(h.events.len().max(1).to_string()),
            ]
        }),
    )
}
