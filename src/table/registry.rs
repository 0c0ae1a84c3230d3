//! The one list of an archive's tables.
//!
//! Registration ([`register`]), `trailscope tables`, the shell's `\d` and the tests read this
//! list, so a table exists everywhere or nowhere.
//!
//! Adding a table:
//! 1. write its `TableProvider` in this folder (DataFusion types stay here);
//! 2. add one [`TableDef`] to [`TABLES`]: name, one line for people, schema, provider;
//! 3. add a test that queries it (tests/engine.rs or the test of its topic), and a line in
//!    docs/querying.md's table list.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;

use super::TableSource;
use super::cloudtrail::CloudTrailTable;
use super::integrity::{IntegrityKind, IntegrityTable};
use super::listed::{LogFilesTable, ReadErrorsTable};
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
        provider: |s| Arc::new(CloudTrailTable::new(s)),
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
];

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
}
