//! `trailscope trace`: who is really behind a key, a principal, a session or an event, and what
//! was done with every credential derived from it.

use std::io::Write;
use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum};

use super::archive_args::ArchiveArgs;
use super::output::{open_output, short};
use super::progress::Progress;
use trailscope::error::{Error, Result};
use trailscope::lineage::{Origin, OriginKind};
use trailscope::trace::{Start, Trace, trace};

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("start")
        .required(true)
        .args(["access_key", "principal", "session", "event"])
))]
pub struct TraceArgs {
    #[command(flatten)]
    pub archive: ArchiveArgs,
    /// An access key (AKIA… or ASIA…): every credential derived from it, transitively, across
    /// accounts, and everything done with them (its blast radius).
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<String>,
    /// A user or role ARN: every key it acted with, what they issued, and what was done.
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// A session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/NAME): where it comes from and what
    /// it and what it issued did.
    #[arg(long, value_name = "ARN")]
    pub session: Option<String>,
    /// An event id: the chain from that event back to its origin.
    #[arg(long, value_name = "EVENTID")]
    pub event: Option<String>,
    /// `table`, for people; `json`, the whole trace (origin, credentials, summary, events);
    /// `jsonl`, one event per line; `html`, a self-contained page (the tree of credentials,
    /// each filtering the timeline; needs -o).
    #[arg(long, value_enum, default_value = "table")]
    pub format: TraceFormat,
    /// Write the trace to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    Table,
    Json,
    Jsonl,
    Html,
}

impl TraceArgs {
    fn start(&self) -> Result<Start> {
        let start = match (
            &self.access_key,
            &self.principal,
            &self.session,
            &self.event,
        ) {
            (Some(k), _, _, _) => Start::AccessKey(k.trim().to_string()),
            (_, Some(p), _, _) => Start::Principal(p.trim().to_string()),
            (_, _, Some(s), _) => Start::Session(s.trim().to_string()),
            (_, _, _, Some(e)) => Start::Event(e.trim().to_string()),
            _ => {
                return Err(Error::usage(
                    "give one of --access-key, --principal, --session or --event",
                ));
            }
        };
        if let Start::AccessKey(k) = &start
            && !(k.len() >= 16 && k.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(Error::usage(format!(
                "--access-key {k:?} is not an access key id (AKIA… or ASIA…, letters and digits)"
            )));
        }
        Ok(start)
    }
}

pub async fn run(args: TraceArgs, quiet: bool) -> Result<u8> {
    let start = args.start()?;
    if args.format == TraceFormat::Html && args.output.is_none() {
        return Err(Error::usage(
            "--format html writes a page: give -o FILE.html",
        ));
    }
    let source = args.archive.open().await?;
    let mut out = open_output(args.output.as_deref(), source.location.local_dir.as_deref())?;
    let traced = {
        let _progress = Progress::start(source.stats.clone(), quiet);
        trace(&source, &start).await?
    };
    let io = |e| Error::io("output", e);
    match args.format {
        TraceFormat::Table => out.write_all(render_text(&traced).as_bytes()).map_err(io)?,
        TraceFormat::Html => out
            .write_all(trailscope::trace::html::render(&traced).as_bytes())
            .map_err(io)?,
        TraceFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &traced)
                .map_err(|e| Error::Runtime(format!("writing the trace: {e}")))?;
            out.write_all(b"\n").map_err(io)?;
        }
        TraceFormat::Jsonl => {
            for action in &traced.actions {
                serde_json::to_writer(&mut out, action)
                    .map_err(|e| Error::Runtime(format!("writing the trace: {e}")))?;
                out.write_all(b"\n").map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)?;
    if !quiet {
        eprintln!(
            "{}: {} credentials, {} events",
            traced.start,
            traced.credentials.len(),
            traced.summary.events
        );
    }
    Ok(super::query::report_read_errors(&source, quiet))
}

/// The trace for people: origin, the tree of credentials, what was done, the events.
fn render_text(t: &Trace) -> String {
    let mut s = format!("Trace of {}\n", t.start);
    if let Some(origin) = &t.origin {
        s.push_str(&origin_text(origin));
    }
    s.push_str(&format!("\nCredentials ({}):\n", t.credentials.len()));
    for c in &t.credentials {
        let cred = &c.credential;
        s.push_str(&format!(
            "{}{} {} {} issued {} by {} ({} events)\n",
            "  ".repeat(c.depth + 1),
            cred.access_key_id,
            cred.issued_via,
            cred.session_arn.as_deref().unwrap_or("-"),
            cred.issued_at.as_deref().unwrap_or("?"),
            cred.issuer.as_deref().unwrap_or("?"),
            c.events
        ));
    }
    let sum = &t.summary;
    s.push_str(&format!(
        "\nActions: {} events, {} errors, {} .. {}\n",
        sum.events,
        sum.errors,
        sum.first_seen.as_deref().unwrap_or("-"),
        sum.last_seen.as_deref().unwrap_or("-")
    ));
    for (title, counts) in [
        ("by account", &sum.by_account),
        ("by service", &sum.by_service),
        ("by event", &sum.by_event),
        ("errors", &sum.by_error),
        ("source IPs", &sum.source_ips),
        ("user agents", &sum.user_agents),
        ("resources written", &sum.resources_written),
    ] {
        if counts.is_empty() {
            continue;
        }
        let mut top: Vec<(&String, &usize)> = counts.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let listed: Vec<String> = top
            .iter()
            .take(10)
            .map(|(k, n)| {
                let details = t
                    .source_ip_details
                    .get(k.as_str())
                    .map(|d| d.describe())
                    .filter(|d| !d.is_empty())
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default();
                format!("{} ({n}{details})", short(k, 60))
            })
            .collect();
        let more = top.len().saturating_sub(10);
        s.push_str(&format!(
            "  {title}: {}{}\n",
            listed.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        ));
    }
    s.push_str("\nEvents:\n");
    for a in &t.actions {
        s.push_str(&format!(
            "  {} {} {} {} {}{} {} {}\n",
            a.eventtime.as_deref().unwrap_or("-"),
            a.account_id.as_deref().unwrap_or("-"),
            a.access_key_id.as_deref().unwrap_or("-"),
            a.eventsource.as_deref().unwrap_or("-"),
            a.eventname.as_deref().unwrap_or("-"),
            a.errorcode
                .as_deref()
                .map(|e| format!(" [{e}]"))
                .unwrap_or_default(),
            a.sourceipaddress.as_deref().unwrap_or("-"),
            a.log_file.as_deref().unwrap_or("-"),
        ));
    }
    s
}

fn origin_text(o: &Origin) -> String {
    let mut s = format!(
        "Origin: {} {}{} (depth {})\n",
        o.kind.as_str(),
        o.principal.as_deref().unwrap_or("?"),
        o.access_key
            .as_deref()
            .map(|k| format!(" with {k}"))
            .unwrap_or_default(),
        o.depth
    );
    if let Some(why) = &o.broken {
        s.push_str(&format!("  the chain is broken: {why}\n"));
    }
    for link in &o.chain {
        s.push_str(&format!(
            "  {} <- {} {} by {} ({})\n",
            link.access_key_id,
            link.issued_via,
            link.issued_at.as_deref().unwrap_or("?"),
            link.issuer.as_deref().unwrap_or("?"),
            link.log_file.as_deref().unwrap_or("-")
        ));
    }
    if o.kind == OriginKind::Unknown && o.broken.is_none() {
        s.push_str("  no origin known\n");
    }
    s
}
