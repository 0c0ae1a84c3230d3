//! Shared views (`queries/views/<name>.sql`, embedded at build time) that controls and users
//! build on, e.g. `alarmed_metric_filters`: the metric filters that would actually raise an alarm.

use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

static VIEWS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_views.rs"));

/// Registers every built-in view. A view may read another, so views that cannot plan yet are
/// retried until no more succeed; what is left is an error naming the view.
pub async fn register_views(ctx: &SessionContext) -> Result<()> {
    let mut pending: Vec<&(&str, &str)> = VIEWS.iter().collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut last_error = None;
        for view in &pending {
            let (name, sql) = **view;
            match ctx
                .sql(&format!("CREATE OR REPLACE VIEW {name} AS {sql}"))
                .await
            {
                Ok(_) => {}
                Err(e) => {
                    last_error = Some(format!("view {name} (queries/views/{name}.sql): {e}"));
                    failed.push(*view);
                }
            }
        }
        if failed.len() == pending.len() {
            return Err(Error::usage(last_error.unwrap_or_default()));
        }
        pending = failed;
    }
    Ok(())
}

/// The names of the built-in views.
pub fn names() -> impl Iterator<Item = &'static str> {
    VIEWS.iter().map(|(name, _)| *name)
}
