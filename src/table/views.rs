//! Shared views (`queries/views/<name>.sql`, embedded at build time) that controls and users
//! build on, e.g. `alarmed_metric_filters`: the metric filters that would actually raise an alarm.

use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

static VIEWS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_views.rs"));

/// Registers every built-in view, again when a table they read was replaced. A view may read
/// another, so views that cannot plan yet are retried until no more succeed; what is left is an
/// error naming the view.
pub async fn register_views(ctx: &SessionContext) -> Result<()> {
    // A view keeps the plan of every table and view it read when it was made. Made again in
    // catalog order, one reading a view later in the order would keep that view's old plan
    // (`alarm_facts_captured` the listing of `archive_accounts` the shared scan replaced): all
    // are dropped first, so each is made after the views it reads.
    for (name, _) in VIEWS {
        ctx.deregister_table(*name)?;
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// Registered again after a table they read changed, views that read other views (here
    /// `alarm_facts_captured` reads `archive_accounts`, which reads `log_files`) answer from the
    /// table as it is now.
    #[tokio::test]
    async fn views_made_again_read_the_tables_as_they_are_now() {
        let ctx = SessionContext::new();
        crate::table::snapshot::register_snapshot_tables(&ctx, &[]).expect("snapshot tables");
        let log_files = |accounts: Vec<&str>| {
            let schema = Schema::new(vec![
                Field::new("account_id", DataType::Utf8, true),
                Field::new("delivery_time", DataType::Utf8, true),
            ]);
            let times = vec!["2026-10-01T00:05:00Z"; accounts.len()];
            RecordBatch::try_new(
                Arc::new(schema),
                vec![
                    Arc::new(StringArray::from(accounts)),
                    Arc::new(StringArray::from(times)),
                ],
            )
            .expect("two columns")
        };
        let accounts = |ctx: SessionContext| async move {
            let rows = ctx
                .sql("SELECT account_id FROM alarm_facts_captured ORDER BY account_id")
                .await
                .expect("plans")
                .collect()
                .await
                .expect("runs");
            rows.iter()
                .flat_map(|b| {
                    let ids = b.column(0).as_any().downcast_ref::<StringArray>();
                    let ids = ids.expect("text").iter().flatten().map(str::to_string);
                    ids.collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        ctx.register_batch("log_files", log_files(vec!["111122223333", "444455556666"]))
            .expect("log_files");
        register_views(&ctx).await.expect("views");
        assert_eq!(
            accounts(ctx.clone()).await,
            ["111122223333", "444455556666"]
        );

        ctx.deregister_table("log_files").expect("deregisters");
        ctx.register_batch("log_files", log_files(vec!["777788889999"]))
            .expect("log_files again");
        register_views(&ctx).await.expect("views again");
        assert_eq!(accounts(ctx.clone()).await, ["777788889999"]);
    }
}
