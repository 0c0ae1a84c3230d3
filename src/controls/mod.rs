//! The control catalog: metadata, loading, linting, running → findings.
//!
//! A control is a SQL query over the archive tables (`cloudtrail`, `log_files`, ...) and the
//! snapshot tables (`trails`, `buckets`, ...) that returns one row per evaluated resource:
//!
//! | column | |
//! |---|---|
//! | `status` | `fail`, `pass` or `inconclusive` (a needed fact is missing: never pass) |
//! | `resource` | trail ARN, bucket, log group or account |
//! | `account_id`, `region` | where (region may be NULL) |
//! | `window_start`, `window_end` | for event controls, the window the events fall in |
//! | `evidence` | JSON text; every other column is added to it, so `array_agg(...)` of events with their `log_file` becomes evidence as is |
//!
//! `control_id`, `title` and `severity` come from the metadata. A control that returns no row
//! gives one inconclusive finding: silence is not a pass.
//!
//! Adding a control: `queries/controls/<area>/<ID>.sql` + `<ID>.json`, a fire and a pass case in
//! `tests/controls.rs`, and `trailscope lint` clean.

pub mod lint;
pub mod load;
pub mod meta;
pub mod params;
pub mod run;

pub use load::{Control, builtin, catalog, from_dir};
pub use meta::{ControlMeta, Kind, Severity};
pub use params::ParamValues;
pub use run::{Report, run_controls};

use serde::Serialize;

use crate::error::Result;
use crate::snapshot::Snapshot;
use crate::table::{self, TableSource};

/// Evaluates `controls` against an archive and snapshots: the whole of `trailscope check`.
pub async fn check(
    source: &TableSource,
    snapshots: &[Snapshot],
    controls: &[Control],
    values: &ParamValues,
) -> Result<Report> {
    let ctx = table::evidence_session(source, snapshots).await?;
    share_scan(&ctx, controls, values, &[], Vec::new()).await?;
    run_controls(&ctx, controls, values).await
}

/// Reads once the part of `cloudtrail` that `controls` (and the `also` queries) look at, and
/// hands `along` its columns of every row in the same pass (see [`table::shared_scan`]).
/// `findings` exists (empty) while planning, so meta controls plan too.
pub async fn share_scan(
    ctx: &datafusion::prelude::SessionContext,
    controls: &[Control],
    values: &ParamValues,
    also: &[&str],
    along: Vec<table::shared_scan::AlongSide<'_>>,
) -> Result<table::shared_scan::Needs> {
    let queries: Vec<String> = controls
        .iter()
        .filter_map(|c| params::substitute(&c.meta, &c.sql, values).ok()?.ok())
        .chain(also.iter().map(|q| q.to_string()))
        .collect();
    ctx.register_table("findings", std::sync::Arc::new(run::findings_table(&[])?))?;
    // `log_files` answers from a listing of the whole scope; many controls read it (through
    // `archive_accounts`), so it is listed once here rather than once per control.
    table::shared_scan::materialize(ctx, "log_files").await?;
    let needs = table::shared_scan::share_cloudtrail_scan(
        ctx,
        &queries,
        |ctx| async move { table::views::register_views(&ctx).await },
        along,
    )
    .await?;
    ctx.deregister_table("findings")?;
    Ok(needs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Fail,
    Inconclusive,
    Pass,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Inconclusive => "inconclusive",
            Status::Pass => "pass",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fail" => Some(Status::Fail),
            "pass" => Some(Status::Pass),
            "inconclusive" => Some(Status::Inconclusive),
            _ => None,
        }
    }
}

/// One row of one control's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub control_id: String,
    pub status: Status,
    pub severity: Severity,
    pub title: String,
    pub resource: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// JSON text.
    pub evidence: String,
}
