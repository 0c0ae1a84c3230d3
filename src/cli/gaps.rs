//! `trailscope gaps`: delivery gaps per account and region, classified with evidence, and a
//! compact timeline.

use std::io::Write;

use chrono::Duration;
use clap::Args;

use super::archive_args::ArchiveArgs;
use super::verify::EvidenceFormat;
use trailscope::error::{Error, Result};
use trailscope::integrity::gaps::{GapOptions, GapReport};
use trailscope::output::{Column, jsonl, records, write_all};
use trailscope::time::parse_duration;

#[derive(Debug, Args)]
pub struct GapsArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// Consecutive deliveries further apart than this are a gap.
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = parse_duration)]
    pub threshold: Duration,
    /// Only this trail's digests count as attestation.
    #[arg(long, value_name = "NAME")]
    pub trail: Option<String>,
    /// Leave out the timeline (text format).
    #[arg(long)]
    pub no_timeline: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: EvidenceFormat,
}

pub async fn run(args: GapsArgs, quiet: bool) -> Result<u8> {
    if args.threshold <= Duration::zero() {
        return Err(Error::usage("--threshold must be positive, e.g. 60m"));
    }
    let source = args.archive.open().await?;
    let options = GapOptions {
        threshold: args.threshold,
        trail: args.trail.clone(),
        ..GapOptions::default()
    };
    let report = trailscope::table::stop_events::gaps(&source, &options, None).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    match args.format {
        EvidenceFormat::Jsonl => write_jsonl(&mut out, &report)?,
        EvidenceFormat::Text => write_text(&mut out, &report, !args.no_timeline, quiet)
            .and_then(|()| out.flush())
            .map_err(|e| Error::io("output", e))?,
    }
    // The stop events were read from the archive: objects that could not be are named.
    let partial = super::query::report_read_errors(&source, quiet);
    Ok(u8::from(report.has_critical()).max(partial))
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One JSON object per gap, through the output seam.
pub fn write_jsonl(out: &mut (dyn Write + Send), report: &GapReport) -> Result<()> {
    let text = |s: &str| Some(s.to_string());
    let columns = [
        ("type", Column::Text),
        ("account_id", Column::Text),
        ("region", Column::Text),
        ("start", Column::Text),
        ("end", Column::Text),
        ("class", Column::Text),
        ("evidence", Column::Json),
    ];
    let gaps = records(
        &columns,
        report.gaps.iter().map(|g| {
            vec![
                text("gap"),
                text(&g.account_id),
                text(&g.region),
                Some(iso(g.start)),
                Some(iso(g.end)),
                text(g.class.as_str()),
                Some(g.evidence.to_string()),
            ]
        }),
    )?;
    write_all(jsonl(), out, &gaps.schema(), &[gaps], false)
}

pub fn write_text(
    out: &mut dyn Write,
    report: &GapReport,
    timeline: bool,
    quiet: bool,
) -> std::io::Result<()> {
    if !quiet {
        writeln!(
            out,
            "Delivery gaps over {}m from {} to {}",
            report.threshold.num_minutes(),
            iso(report.start),
            iso(report.end)
        )?;
    }
    for g in &report.gaps {
        writeln!(
            out,
            "{} {:<12} {} .. {} ({}) {:<15} {}",
            g.account_id,
            g.region,
            iso(g.start),
            iso(g.end),
            trailscope::integrity::chain::human(g.end - g.start),
            g.class.as_str(),
            g.evidence
        )?;
    }
    for s in &report.stops {
        writeln!(
            out,
            "{} {} at {} by {} from {}; {}",
            s.event,
            s.trail.as_deref().unwrap_or("?"),
            iso(s.stopped_at),
            s.stopped_by.as_deref().unwrap_or("?"),
            s.source_ip.as_deref().unwrap_or("?"),
            match s.restarted_at {
                Some(r) => format!(
                    "restarted at {} by {}",
                    iso(r),
                    s.restarted_by.as_deref().unwrap_or("?")
                ),
                None => "never restarted".into(),
            }
        )?;
    }
    if timeline && !report.timelines.is_empty() {
        let step = report.timelines[0].step_secs;
        writeln!(
            out,
            "\nTimeline from {}, one character per {}: # delivered, . quiet, S stopped, X deleted logs, ! unattested, ? no validation",
            iso(report.start),
            if step == 3600 { "hour" } else { "day" }
        )?;
        for t in &report.timelines {
            writeln!(out, "{} {:<15} {}", t.account_id, t.region, t.cells)?;
        }
    }
    let critical = report.gaps.iter().filter(|g| g.class.is_critical()).count();
    writeln!(
        out,
        "{} gap(s), {critical} critical (deleted_logs or unattested)",
        report.gaps.len()
    )
}
