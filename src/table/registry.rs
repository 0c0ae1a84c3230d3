//! The one list of an archive's tables.
//!
//! Registration ([`register`]), `trailscope tables`, the shell's `\d` and the tests read this
//! list, so a table exists everywhere or nowhere.
//!
//! Adding a table:
//! 1. write its `TableProvider` in this folder (DataFusion types stay here), or, for a table
//!    that is a query over the others, its SQL under `queries/tables/` (see [`sql_table`]);
//! 2. add one [`TableDef`] to [`TABLES`]: name, one line for people, schema, provider;
//! 3. add a test that queries it (tests/engine.rs or the test of its topic), and a line in
//!    docs/querying.md's table list.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;

use super::TableSource;
use super::cloudtrail::CloudTrailTable;
use super::credential_origins::CredentialOriginsTable;
use super::integrity::{IntegrityKind, IntegrityTable};
use super::listed::{LogFilesTable, ReadErrorsTable};
use super::sql_table::{self, SqlTable};
use crate::decode::schema::cloudtrail_schema;
use crate::error::Result;

/// One table of an archive.
pub struct TableDef {
    pub name: &'static str,
    /// What one row is, for `trailscope tables`.
    pub about: &'static str,
    pub schema: fn() -> SchemaRef,
    pub provider: fn(&TableSource) -> Arc<dyn TableProvider>,
}

pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "cloudtrail",
        about: "one row per CloudTrail record, with the log_file it came from",
        schema: cloudtrail_schema,
        provider: |s| match &s.cloudtrail_elsewhere {
            Some(elsewhere) => Arc::clone(elsewhere),
            None => Arc::new(CloudTrailTable::new(s)),
        },
    },
    TableDef {
        name: "log_files",
        about: "one row per delivered log file (from listing alone)",
        schema: LogFilesTable::table_schema,
        provider: |s| Arc::new(LogFilesTable::new(s.archive.clone())),
    },
    TableDef {
        name: "read_errors",
        about: "objects that look like CloudTrail's but could not be read, with the reason",
        schema: ReadErrorsTable::table_schema,
        provider: |s| Arc::new(ReadErrorsTable::new(s.archive.clone())),
    },
    TableDef {
        name: "digests",
        about: "one row per digest file (missing ones inferred) with its chain status; signatures: trailscope verify",
        schema: || IntegrityKind::Digests.schema(),
        provider: |s| Arc::new(IntegrityTable::new(IntegrityKind::Digests, s.clone())),
    },
    TableDef {
        name: "digest_log_files",
        about: "one row per log file a digest lists, and whether it is present",
        schema: || IntegrityKind::DigestLogFiles.schema(),
        provider: |s| {
            Arc::new(IntegrityTable::new(
                IntegrityKind::DigestLogFiles,
                s.clone(),
            ))
        },
    },
    TableDef {
        name: "verify_results",
        about: "digest and log file verification results (no signature check; use trailscope verify)",
        schema: || IntegrityKind::VerifyResults.schema(),
        provider: |s| Arc::new(IntegrityTable::new(IntegrityKind::VerifyResults, s.clone())),
    },
    TableDef {
        name: "gaps",
        about: "delivery gaps over 60 minutes per account and region, classified with evidence",
        schema: || IntegrityKind::Gaps.schema(),
        provider: |s| Arc::new(IntegrityTable::new(IntegrityKind::Gaps, s.clone())),
    },
    TableDef {
        name: "issued_credentials",
        about: "one row per temporary credential issued (STS calls, service deliveries): who asked, with which key, how",
        schema: || sql_schema("issued_credentials"),
        provider: |_| sql_table("issued_credentials"),
    },
    TableDef {
        name: "credential_origins",
        about: "one row per access key issued or used: where it comes from (origin principal and key, chain, depth) or why the chain breaks",
        schema: CredentialOriginsTable::table_schema,
        provider: |_| Arc::new(CredentialOriginsTable),
    },
    TableDef {
        name: "sessions",
        about: "issued_credentials with each one's first and last use and its number of events",
        schema: || sql_schema("sessions"),
        provider: |_| sql_table("sessions"),
    },
];

/// Tables that are SQL over the others (`queries/tables/<name>.sql`), each after those it reads.
pub const SQL_TABLES: &[(&str, &str)] = &[
    (
        "issued_credentials",
        include_str!("../../queries/tables/issued_credentials.sql"),
    ),
    (
        "sessions",
        include_str!("../../queries/tables/sessions.sql"),
    ),
];

/// The SQL of the SQL table `name` (empty for other names).
pub fn sql_of(name: &str) -> &'static str {
    SQL_TABLES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, sql)| sql)
}

/// The schema of the SQL table `name`, planned once for all of them.
fn sql_schema(name: &str) -> SchemaRef {
    static SCHEMAS: LazyLock<Vec<(&'static str, SchemaRef)>> =
        LazyLock::new(|| sql_table::plan_schemas(SQL_TABLES));
    SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| Arc::new(Schema::empty()), |(_, s)| Arc::clone(s))
}

fn sql_table(name: &'static str) -> Arc<dyn TableProvider> {
    Arc::new(SqlTable::planned_on_use(name, sql_of(name), sql_schema))
}

/// The table called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}

/// Registers every table of [`TABLES`] over `source`.
pub fn register(ctx: &SessionContext, source: &TableSource) -> Result<()> {
    for table in TABLES {
        ctx.register_table(table.name, (table.provider)(source))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_integrity_table_is_listed_once_under_its_own_name() {
        for kind in IntegrityKind::ALL {
            let def = find(kind.name()).expect("integrity table in the registry");
            assert_eq!((def.schema)(), kind.schema());
        }
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len(), "duplicate table names");
    }

    #[test]
    fn every_sql_table_plans_and_is_registered() {
        for (name, _) in SQL_TABLES {
            let def = find(name).expect("SQL table in the registry");
            assert!(!(def.schema)().fields().is_empty(), "{name} does not plan");
        }
        let columns: Vec<String> = sql_schema("sessions")
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        // `sessions` is `issued_credentials` plus its use.
        assert!(columns.starts_with(&["access_key_id".to_string()]));
        assert!(columns.ends_with(&["first_used".into(), "last_used".into(), "events".into()]));
    }
}
