//! Running SQL text under trailscope's read-only policy.
//!
//! The archive is evidence. Queries may read, explain, describe and define session-local views;
//! statements that write somewhere (`COPY ... TO`, `INSERT`, `CREATE EXTERNAL TABLE ... LOCATION`,
//! DML) are refused, except `COPY ... TO` a destination the user named with `--allow-write`.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::Statement as Sql;
use datafusion::sql::sqlparser::dialect::GenericDialect;

use crate::error::{Error, Result};

/// One statement's result.
pub struct StatementResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl StatementResult {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Splits `sql` into statements and checks each against the policy, before running any.
pub fn parse_checked(sql: &str, allow_write: Option<&str>) -> Result<Vec<Statement>> {
    let sql = super::trino_forms::ipaddress_literals(sql);
    let statements = DFParser::parse_sql_with_dialect(&sql, &GenericDialect {})
        .map_err(|e| Error::usage(format!("SQL: {e}")))?;
    if statements.is_empty() {
        return Err(Error::usage("no SQL statement given"));
    }
    let mut statements: Vec<Statement> = statements.into_iter().collect();
    for statement in &mut statements {
        check_read_only(statement, allow_write)?;
        super::balance::balance_chains(statement);
        super::dialect_columns::hide_from_wildcards(statement);
        super::trino_forms::rewrite(statement);
    }
    Ok(statements)
}

/// Refuses statements that would write, naming what to do instead.
pub fn check_read_only(statement: &Statement, allow_write: Option<&str>) -> Result<()> {
    let refuse = |what: &str| {
        Err(Error::usage(format!(
            "{what} is refused: trailscope reads evidence and never writes with SQL. \
             Save results to a file with an output format, or allow COPY ... TO one named destination"
        )))
    };
    match statement {
        Statement::CopyTo(copy) => match allow_write {
            Some(dest) if dest == copy.target => Ok(()),
            Some(dest) => Err(Error::usage(format!(
                "COPY TO '{}' is not the allowed destination '{dest}'",
                copy.target
            ))),
            None => refuse("COPY ... TO"),
        },
        Statement::CreateExternalTable(_) => refuse("CREATE EXTERNAL TABLE"),
        Statement::Explain(e) => check_read_only(&e.statement, allow_write),
        Statement::Reset(_) => Ok(()),
        Statement::Statement(sql) => match sql.as_ref() {
            Sql::Query(_)
            | Sql::ShowTables { .. }
            | Sql::ShowColumns { .. }
            | Sql::ShowVariable { .. }
            | Sql::ShowFunctions { .. }
            | Sql::ExplainTable { .. }
            | Sql::Set(_)
            | Sql::CreateView { .. }
            | Sql::Drop { .. } => Ok(()),
            Sql::Explain { statement, .. } => {
                check_read_only(&Statement::Statement(statement.clone()), allow_write)
            }
            // In-memory tables (CREATE TABLE t AS SELECT ...) stay in the session.
            Sql::CreateTable(create) if create.location.is_none() => Ok(()),
            other => refuse(
                other
                    .to_string()
                    .split_whitespace()
                    .next()
                    .unwrap_or("this statement"),
            ),
        },
    }
}

/// Refuses a `COPY ... TO` destination inside the archive being read, wherever it points after
/// `..` and symlinks are resolved: the archive is evidence.
pub fn check_write_target(dest: &str, archive: &str) -> Result<()> {
    if crate::archive::location::is_within(dest, archive) {
        return Err(Error::usage(format!(
            "COPY TO '{dest}': refusing to write inside the archive being read ({archive}); \
             trailscope never alters evidence"
        )));
    }
    Ok(())
}

/// One statement's rows, as the engine produces them.
pub struct RowStream {
    schema: SchemaRef,
    inner: datafusion::execution::SendableRecordBatchStream,
}

impl RowStream {
    pub fn schema(&self) -> SchemaRef {
        SchemaRef::clone(&self.schema)
    }

    /// The next batch; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<RecordBatch>> {
        use futures::StreamExt;
        Some(self.inner.next().await?.map_err(Error::from))
    }
}

/// Plans and starts one statement; its rows are read from the returned stream, so the first
/// rows can be printed while the rest are still being read.
pub async fn stream(ctx: &SessionContext, statement: Statement) -> Result<RowStream> {
    let plan = ctx.state().statement_to_plan(statement).await?;
    let frame = ctx.execute_logical_plan(plan).await?;
    let schema = frame.schema().inner().clone();
    let inner = frame.execute_stream().await?;
    Ok(RowStream { schema, inner })
}

/// Runs statements in order, collecting each result.
pub async fn execute(
    ctx: &SessionContext,
    statements: Vec<Statement>,
) -> Result<Vec<StatementResult>> {
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        let plan = ctx.state().statement_to_plan(statement).await?;
        let frame = ctx.execute_logical_plan(plan).await?;
        let schema = frame.schema().inner().clone();
        let batches = frame.collect().await?;
        results.push(StatementResult { schema, batches });
    }
    Ok(results)
}

/// `text` as an SQL string literal.
pub fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pass_and_writes_are_refused() {
        for ok in [
            "SELECT 1",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
            "CREATE VIEW v AS SELECT 1",
            "CREATE TABLE t AS SELECT 1",
            "SELECT 1; SELECT 2",
        ] {
            assert!(parse_checked(ok, None).is_ok(), "{ok}");
        }
        for bad in [
            "COPY (SELECT 1) TO '/tmp/x.parquet'",
            "INSERT INTO t VALUES (1)",
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp/x'",
            "DELETE FROM t",
            "SELECT 1; COPY (SELECT 1) TO '/tmp/x.csv'",
        ] {
            let err = parse_checked(bad, None).unwrap_err().to_string();
            assert!(err.contains("refused"), "{bad}: {err}");
        }
        assert!(parse_checked("COPY (SELECT 1) TO '/tmp/x.csv'", Some("/tmp/x.csv")).is_ok());
        assert!(parse_checked("COPY (SELECT 1) TO '/tmp/y.csv'", Some("/tmp/x.csv")).is_err());
        assert!(parse_checked("", None).is_err());
    }
}
