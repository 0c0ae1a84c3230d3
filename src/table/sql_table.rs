//! Tables defined by SQL over the archive's other tables (`queries/tables/<name>.sql`): what a
//! row is stays readable as SQL, and the table is in the registry like any other, so `query`,
//! `shell`, `tables` and the cluster all see it.
//!
//! The provider plans its SQL in the querying session at scan time, with the query's projection
//! and filters on top, so DataFusion's optimizer pushes them into the SQL's own scans. The
//! schema is the SQL's, found once by planning it over an empty `cloudtrail`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::decode::schema::cloudtrail_schema;

/// A table answered by `sql`.
#[derive(Debug)]
pub struct SqlTable {
    name: &'static str,
    sql: &'static str,
    schema: TableSchema,
}

/// A table's schema: known, or planned by the function when first asked for.
#[derive(Debug)]
enum TableSchema {
    Known(SchemaRef),
    Planned(fn(&str) -> SchemaRef),
}

impl SqlTable {
    pub fn new(name: &'static str, sql: &'static str, schema: SchemaRef) -> SqlTable {
        let schema = TableSchema::Known(schema);
        SqlTable { name, sql, schema }
    }

    /// A table whose schema `plan(name)` gives when a query first names it.
    pub fn planned_on_use(
        name: &'static str,
        sql: &'static str,
        plan: fn(&str) -> SchemaRef,
    ) -> SqlTable {
        let schema = TableSchema::Planned(plan);
        SqlTable { name, sql, schema }
    }
}

/// The schemas of `tables` (name, SQL; each after those it reads), planned over an empty
/// `cloudtrail`. A table whose SQL does not plan gets an empty schema, which the registry's test
/// rules out.
pub fn plan_schemas(tables: &[(&'static str, &'static str)]) -> Vec<(&'static str, SchemaRef)> {
    let empty_schema = || Arc::new(Schema::empty());
    let Ok(ctx) = super::base_session() else {
        return tables.iter().map(|(n, _)| (*n, empty_schema())).collect();
    };
    if let Ok(empty) = MemTable::try_new(cloudtrail_schema(), vec![vec![]]) {
        let _ = ctx.register_table("cloudtrail", Arc::new(empty));
    }
    let mut out = Vec::new();
    for (name, sql) in tables {
        // Planning over in-memory tables does no I/O, so it completes without a runtime.
        let schema = futures::executor::block_on(ctx.state().create_logical_plan(sql))
            .map(|plan| Arc::new(plan.schema().as_arrow().clone()))
            .unwrap_or_else(|_| empty_schema());
        let _ = ctx.register_table(
            *name,
            Arc::new(SqlTable::new(name, sql, Arc::clone(&schema))),
        );
        out.push((*name, schema));
    }
    out
}

/// The whole session behind `state`, which a table that plans SQL of its own needs.
pub(crate) fn full_state<'a>(state: &'a dyn Session, table: &str) -> Result<&'a SessionState> {
    state
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(|| {
            DataFusionError::Plan(format!(
                "table {table} needs a full session to plan its SQL"
            ))
        })
}

#[async_trait]
impl TableProvider for SqlTable {
    fn schema(&self) -> SchemaRef {
        match &self.schema {
            TableSchema::Known(schema) => Arc::clone(schema),
            TableSchema::Planned(plan) => plan(self.name),
        }
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Applied on top of the SQL, where the optimizer moves them as far down as they go.
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = full_state(state, self.name)?;
        let plan = state.create_logical_plan(self.sql).await?;
        // Under the table's name, so filters naming `sessions.x` find their columns.
        let mut builder = LogicalPlanBuilder::from(plan).alias(self.name)?;
        if let Some(filter) = conjunction(filters.to_vec()) {
            builder = builder.filter(filter)?;
        }
        if let Some(columns) = projection {
            let schema = builder.schema().clone();
            builder = builder.project(
                columns
                    .iter()
                    .map(|i| Expr::Column(schema.qualified_field(*i).into())),
            )?;
        }
        builder = builder.limit(0, limit)?;
        state.create_physical_plan(&builder.build()?).await
    }
}
