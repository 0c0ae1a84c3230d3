//! `trailscope query`: SQL from the argument, a file, or stdin; results to stdout or a file.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::archive_args::ArchiveArgs;
use super::output::{format_parser, open_output};
use super::progress::Progress;
use trailscope::error::{Error, Result};
use trailscope::output::FormatDef;
use trailscope::table::{self, ScanStats, TableSource, statements};

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// The SQL (one or more statements separated by ';'). Read from stdin when absent.
    /// It may start with a `-- comment`, as saved queries often do.
    #[arg(allow_hyphen_values = true)]
    pub sql: Option<String>,
    /// Read the SQL from this file instead.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "sql")]
    pub file: Option<PathBuf>,
    /// How rows are printed.
    #[arg(long, default_value = "table", value_parser = format_parser())]
    pub format: &'static FormatDef,
    /// Write results to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Allow `COPY ... TO 'DEST'` to this exact destination (SQL is otherwise read-only).
    #[arg(long, value_name = "DEST")]
    pub allow_write: Option<String>,
    /// Also register a configuration snapshot's tables (`trails`, `buckets`, ...) and the
    /// controls' shared views (repeat for several).
    #[arg(long = "snapshot", short = 's', value_name = "FILE")]
    pub snapshots: Vec<PathBuf>,
    /// Run the SQL on an Apache DataFusion Ballista cluster (`df://HOST:PORT`, a
    /// `trailscope cluster scheduler`); executors read the archive (and --lake) themselves.
    #[cfg(feature = "cluster")]
    #[arg(long, value_name = "URL", conflicts_with = "allow_write")]
    pub cluster: Option<String>,
}

pub async fn run(args: QueryArgs, quiet: bool) -> Result<u8> {
    if args.format.needs_file && args.output.is_none() {
        return Err(Error::usage(format!(
            "--format {} needs -o FILE",
            args.format.name
        )));
    }
    let sql = read_sql(&args)?;
    let mut statements = statements::parse_checked(&sql, args.allow_write.as_deref())?;
    args.archive.partition_names.hide(&mut statements);
    if let Some(dest) = &args.allow_write {
        statements::check_write_target(dest, &args.archive.archive)
            .map_err(|e| Error::usage(format!("--allow-write: {e}")))?;
    }
    let source = args.archive.open().await?;
    let mut out = open_output(args.output.as_deref(), source.location.local_dir.as_deref())?;
    let ctx = if args.snapshots.is_empty() {
        table::session(&source)?
    } else {
        let snapshots = trailscope::snapshot::Snapshot::load_all(&args.snapshots)?;
        table::evidence_session(&source, &snapshots).await?
    };
    let started = Instant::now();
    let rows = {
        let _progress = Progress::start(source.stats.clone(), quiet);
        execute(&args, ctx, &source, statements, out.as_mut()).await
    }?;
    #[cfg(feature = "cluster")]
    let on_cluster = args.cluster.is_some();
    #[cfg(not(feature = "cluster"))]
    let on_cluster = false;
    if !quiet && on_cluster {
        eprintln!("{}", cluster_summary_line(rows, &source, started));
    } else if !quiet {
        eprintln!("{}", summary_line(rows, &source, started));
    }
    Ok(report_read_errors(&source, quiet))
}

/// Runs the statements here, or on the cluster given with `--cluster`, writing each result's
/// rows as they come; returns how many rows were written.
async fn execute(
    args: &QueryArgs,
    ctx: datafusion::prelude::SessionContext,
    source: &TableSource,
    statements: Vec<datafusion::sql::parser::Statement>,
    out: &mut (dyn std::io::Write + Send),
) -> Result<usize> {
    let to_file = args.output.is_some();
    #[cfg(feature = "cluster")]
    if let Some(url) = &args.cluster {
        let views = !args.snapshots.is_empty();
        let cluster = trailscope::cluster::ClusterSession::connect(url, ctx, source, views).await?;
        let mut rows = 0;
        for result in cluster.execute(statements).await? {
            trailscope::output::write_all(
                args.format,
                out,
                &result.schema,
                &result.batches,
                to_file,
            )?;
            rows += result.rows();
        }
        return Ok(rows);
    }
    let _ = source;
    let mut rows = 0;
    for statement in statements {
        let mut stream = statements::stream(&ctx, statement).await?;
        let mut sink = args.format.open(&mut *out, stream.schema(), to_file)?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows();
            sink.batch(&batch)?;
        }
        sink.finish()?;
    }
    // The command ends here: the process's exit frees the session, whose caches (every lake
    // file's footer) took 5-8% of a short lake query to drop entry by entry.
    std::mem::forget(ctx);
    Ok(rows)
}

fn read_sql(args: &QueryArgs) -> Result<String> {
    if let Some(sql) = &args.sql {
        return Ok(sql.clone());
    }
    if let Some(path) = &args.file {
        return std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e));
    }
    if std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "no SQL given: pass it as an argument, with -f FILE, or on stdin (or use `trailscope shell`)",
        ));
    }
    let mut sql = String::new();
    std::io::stdin()
        .read_to_string(&mut sql)
        .map_err(|e| Error::io("stdin", e))?;
    Ok(sql)
}

pub(super) fn summary_line(rows: usize, source: &TableSource, started: Instant) -> String {
    let s = &source.stats;
    // How many of the lake's files the question needed, after pruning by manifest and bloom
    // filter: the figure that says whether a lookup was cheap.
    let lake = match &source.lake {
        Some(_) => format!("{} lake files, ", ScanStats::get(&s.lake_files_planned)),
        None => String::new(),
    };
    format!(
        "{rows} row{} in {:.2}s ({lake}{} objects, {:.1} MiB read, {} records decoded, {} list requests)",
        if rows == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        ScanStats::get(&s.objects_opened),
        ScanStats::get(&s.bytes_read) as f64 / (1024.0 * 1024.0),
        ScanStats::get(&s.records),
        ScanStats::get(&s.list_requests),
    )
}

/// What a cluster query cost the client: executors read the objects, so only what was sent.
fn cluster_summary_line(rows: usize, source: &TableSource, started: Instant) -> String {
    let s = &source.stats;
    let lake = match &source.lake {
        Some(lake) => format!("{} lake files and ", lake.files.len()),
        None => String::new(),
    };
    let raw = match ScanStats::get(&s.folders_for_executors) {
        0 => format!("{} raw objects listed", ScanStats::get(&s.objects_planned)),
        n => format!("{n} folders of raw objects left to the executors to list"),
    };
    format!(
        "{rows} row{} in {:.2}s on the cluster ({lake}{raw}, {} list requests)",
        if rows == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        ScanStats::get(&s.list_requests),
    )
}

/// Names every object that could not be read or fetched on stderr (the first 20, then a pointer
/// to `read_errors`), and the enrichment files the answer used. Returns the exit code they call
/// for: 1 when some could not be fetched (a partial answer, allowed with `--allow-partial`),
/// else 0.
pub(super) fn report_read_errors(source: &trailscope::table::TableSource, quiet: bool) -> u8 {
    say_enrichment(&source.enrichment, quiet);
    let errors = source.errors.all();
    if errors.is_empty() {
        return 0;
    }
    let unfetched = source.errors.unfetched();
    eprintln!(
        "trailscope: warning: {} object{} could not be fully read{}:",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        match unfetched {
            0 => String::new(),
            n => format!(" ({n} could not be fetched: this answer is partial)"),
        }
    );
    let shown = if quiet {
        errors.len().min(5)
    } else {
        errors.len().min(20)
    };
    for e in &errors[..shown] {
        eprintln!("  {e}");
    }
    if errors.len() > shown {
        eprintln!(
            "  ... and {} more: SELECT * FROM read_errors lists them all",
            errors.len() - shown
        );
    }
    u8::from(unfetched > 0)
}

/// Why IP functions answered NULL (always), and which files answered them (unless quiet), so
/// the result can be reproduced.
pub(super) fn say_enrichment(enrichment: &trailscope::enrich::Enrichment, quiet: bool) {
    for note in enrichment.notes() {
        eprintln!("trailscope: note: {note}");
    }
    if quiet || !enrichment.used() {
        return;
    }
    for f in enrichment.files() {
        eprintln!(
            "enrichment: {} {} ({}, built {}, sha256 {})",
            f.role,
            f.path,
            f.about,
            f.built.as_deref().unwrap_or("unknown"),
            f.sha256
        );
    }
}
