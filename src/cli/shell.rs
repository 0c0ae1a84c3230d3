//! `trailscope shell`: an interactive SQL prompt with history and multi-line statements.

use std::time::Instant;

use clap::Args;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::archive_args::ArchiveArgs;
use super::output::format_parser;
use super::progress::Progress;
use super::query::{report_read_errors, summary_line};
use super::tables::describe_tables;
use trailscope::error::{Error, Result};
use trailscope::output::{FormatDef, write_all};
use trailscope::table::{self, statements};

#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// How rows are printed.
    #[arg(long, default_value = "table", value_parser = format_parser())]
    pub format: &'static FormatDef,
}

const HELP: &str =
    "End statements with ';'. Commands: \\d (tables), \\d TABLE (columns), \\q (quit), \\? (help).";

pub async fn run(args: ShellArgs, quiet: bool) -> Result<u8> {
    if args.format.needs_file {
        return Err(Error::usage(format!(
            "--format {} is for files: use `trailscope query -o FILE`",
            args.format.name
        )));
    }
    let source = args.archive.open().await?;
    let ctx = table::session(&source)?;
    let mut editor = DefaultEditor::new().map_err(|e| Error::usage(format!("terminal: {e}")))?;
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".trailscope_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "trailscope {} on {} — {HELP}",
        env!("CARGO_PKG_VERSION"),
        source.location.display
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "trailscope> "
        } else {
            "       ...> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::usage(format!("terminal: {e}"))),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match trimmed.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["\\q"] => break,
                ["\\d"] => print!("{}", describe_tables(None, false)),
                ["\\d", name] => print!("{}", describe_tables(Some(name), true)),
                _ => println!("{HELP}"),
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(sql.trim());
        let started = Instant::now();
        let outcome = async {
            let mut parsed = statements::parse_checked(&sql, None)?;
            args.archive.partition_names.hide(&mut parsed);
            let _progress = Progress::start(source.stats.clone(), quiet);
            statements::execute(&ctx, parsed).await
        }
        .await;
        match outcome {
            Ok(results) => {
                let mut out = std::io::stdout();
                let out: &mut (dyn std::io::Write + Send) = &mut out;
                for r in &results {
                    if let Err(e) = write_all(args.format, out, &r.schema, &r.batches, false) {
                        eprintln!("error: {e}");
                    }
                }
                let rows = results.iter().map(|r| r.rows()).sum();
                eprintln!("{}", summary_line(rows, &source, started));
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(report_read_errors(&source, quiet))
}
