//! `credential_origins`: for every access key the archive issued or saw used, where it comes
//! from ([`crate::lineage`]): join it to `cloudtrail` on `useridentity.accesskeyid` to trace every
//! event to its origin.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, ListBuilder, StringArray, StringBuilder, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};

use crate::lineage::{Credential, EventIdentity, Lineage, Origin};
use crate::output::text_cells;

/// The columns of `issued_credentials` a [`Credential`] holds, in its field order.
pub const CREDENTIAL_COLUMNS: [&str; 13] = [
    "access_key_id",
    "session_arn",
    "role_arn",
    "account",
    "issued_via",
    "issuer_type",
    "issuer",
    "issuer_access_key",
    "issuer_account",
    "source_identity",
    "issued_at",
    "issuing_event_id",
    "log_file",
];

/// Credentials from the rows of a `SELECT` of [`CREDENTIAL_COLUMNS`].
pub fn credentials_of(batches: &[RecordBatch]) -> std::result::Result<Vec<Credential>, String> {
    let mut out = Vec::new();
    for batch in batches {
        let c: Vec<Vec<Option<String>>> = CREDENTIAL_COLUMNS
            .iter()
            .map(|n| text_cells(batch, n))
            .collect::<std::result::Result<_, _>>()?;
        out.extend((0..batch.num_rows()).map(|row| {
            let cell = |i: usize| c[i][row].clone();
            Credential {
                access_key_id: cell(0).unwrap_or_default(),
                session_arn: cell(1),
                role_arn: cell(2),
                account: cell(3),
                issued_via: cell(4).unwrap_or_default(),
                issuer_type: cell(5),
                issuer: cell(6),
                issuer_access_key: cell(7),
                issuer_account: cell(8),
                source_identity: cell(9),
                issued_at: cell(10),
                issuing_event_id: cell(11),
                log_file: cell(12),
            }
        }));
    }
    Ok(out)
}

/// Every key used in an event, with who used it (the first such event's identity).
const USED_KEYS: &str = "SELECT useridentity.accesskeyid AS access_key_id, \
first_value(useridentity.type) AS identity_type, first_value(useridentity.arn) AS arn, \
first_value(useridentity.principalid) AS principal_id, \
bool_or(sessioncredentialfromconsole = 'true') AS from_console \
FROM cloudtrail WHERE useridentity.accesskeyid IS NOT NULL AND useridentity.accesskeyid <> '' \
GROUP BY useridentity.accesskeyid";

#[derive(Debug, Default)]
pub struct CredentialOriginsTable;

impl CredentialOriginsTable {
    pub fn table_schema() -> SchemaRef {
        static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
            let text = |name: &str| Field::new(name, DataType::Utf8, true);
            let list = |name: &str| {
                Field::new(
                    name,
                    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                    false,
                )
            };
            Arc::new(Schema::new(vec![
                Field::new("access_key_id", DataType::Utf8, false),
                text("issued_via"),
                text("session_arn"),
                text("origin_kind"),
                text("origin_principal"),
                text("origin_access_key"),
                Field::new("chain_depth", DataType::UInt32, false),
                list("chain"),
                list("chain_sessions"),
                text("broken_reason"),
            ]))
        });
        Arc::clone(&SCHEMA)
    }
}

async fn run_sql(state: &SessionState, sql: &str) -> Result<Vec<RecordBatch>> {
    let plan = state.create_logical_plan(sql).await?;
    let physical = state.create_physical_plan(&plan).await?;
    collect(physical, state.task_ctx()).await
}

/// A key, its credential if the archive issued it, and its origin.
type Row = (String, Option<Credential>, Origin);

/// One row per key: issued ones by their credential's chain, used ones by their users.
fn origins(credentials: Vec<Credential>, used: Vec<(String, EventIdentity)>) -> Vec<Row> {
    let lineage = Lineage::new(credentials);
    let mut rows: BTreeMap<String, (Option<Credential>, Origin)> = BTreeMap::new();
    for c in lineage.credentials() {
        rows.insert(
            c.access_key_id.clone(),
            (Some(c.clone()), lineage.origin(&c.access_key_id)),
        );
    }
    for (key, identity) in used {
        rows.entry(key)
            .or_insert_with(|| (None, lineage.event_origin(&identity)));
    }
    rows.into_iter().map(|(k, (c, o))| (k, c, o)).collect()
}

fn batch(rows: Vec<Row>) -> Result<RecordBatch> {
    let text = |f: &dyn Fn(&Row) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let mut chain = ListBuilder::new(StringBuilder::new());
    let mut sessions = ListBuilder::new(StringBuilder::new());
    for (_, _, origin) in &rows {
        for link in &origin.chain {
            chain.values().append_value(&link.access_key_id);
            sessions.values().append_option(link.session_arn.as_deref());
        }
        chain.append(true);
        sessions.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        text(&|r| Some(r.0.clone())),
        text(&|r| r.1.as_ref().map(|c| c.issued_via.clone())),
        text(&|r| r.1.as_ref().and_then(|c| c.session_arn.clone())),
        text(&|r| Some(r.2.kind.as_str().to_string())),
        text(&|r| r.2.principal.clone()),
        text(&|r| r.2.access_key.clone()),
        Arc::new(
            rows.iter()
                .map(|r| r.2.depth as u32)
                .collect::<UInt32Array>(),
        ),
        Arc::new(chain.finish()),
        Arc::new(sessions.finish()),
        text(&|r| r.2.broken.clone()),
    ];
    Ok(RecordBatch::try_new(
        CredentialOriginsTable::table_schema(),
        columns,
    )?)
}

#[async_trait]
impl TableProvider for CredentialOriginsTable {
    fn schema(&self) -> SchemaRef {
        Self::table_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = super::sql_table::full_state(state, "credential_origins")?;
        let plain = |e: String| DataFusionError::Execution(e);
        let issued = run_sql(
            state,
            &format!(
                "SELECT {} FROM issued_credentials",
                CREDENTIAL_COLUMNS.join(", ")
            ),
        )
        .await?;
        let credentials = credentials_of(&issued).map_err(plain)?;
        let mut used = Vec::new();
        for b in run_sql(state, USED_KEYS).await? {
            let cells: Vec<Vec<Option<String>>> = [
                "access_key_id",
                "identity_type",
                "arn",
                "principal_id",
                "from_console",
            ]
            .iter()
            .map(|n| text_cells(&b, n))
            .collect::<std::result::Result<_, _>>()
            .map_err(plain)?;
            used.extend((0..b.num_rows()).filter_map(|row| {
                let cell = |i: usize| cells[i][row].clone();
                let key = cell(0)?;
                Some((
                    key.clone(),
                    EventIdentity {
                        identity_type: cell(1),
                        arn: cell(2),
                        access_key_id: Some(key),
                        principal_id: cell(3),
                        from_console: cell(4).as_deref() == Some("true"),
                        ..EventIdentity::default()
                    },
                ))
            }));
        }
        let batch = batch(origins(credentials, used))?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            Self::table_schema(),
            projection.cloned(),
        )?)
    }
}
