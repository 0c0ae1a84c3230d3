//! Lineage in from the archive's tables: issued credentials from `issued_credentials`, the events
//! made with a set of keys from `cloudtrail`.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::lineage::{Credential, EventIdentity};
use crate::output::text_cells;
use crate::table::credential_origins::{CREDENTIAL_COLUMNS, credentials_of};
use crate::table::statements::sql_literal as quote;

/// Every credential the archive saw issued.
pub async fn credentials(ctx: &SessionContext) -> Result<Vec<Credential>> {
    let sql = format!(
        "SELECT {} FROM issued_credentials",
        CREDENTIAL_COLUMNS.join(", ")
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    credentials_of(&batches).map_err(Error::Runtime)
}

/// One event made with a traced credential.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub eventtime: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub eventsource: Option<String>,
    pub eventname: Option<String>,
    pub errorcode: Option<String>,
    pub access_key_id: Option<String>,
    pub principal: Option<String>,
    pub sourceipaddress: Option<String>,
    pub useragent: Option<String>,
    pub read_only: bool,
    /// The ARNs the event names in `resources`, for events that change something (a trace
    /// counts resources written; reads are left out).
    pub resources: Vec<String>,
    pub eventid: Option<String>,
    pub log_file: Option<String>,
}

pub(crate) const ACTION_COLUMNS: &str = "eventtime, account_id, awsregion AS region, eventsource, eventname, \
errorcode, useridentity.accesskeyid AS access_key_id, useridentity.arn AS principal, \
sourceipaddress, useragent, readonly, \
CASE WHEN readonly THEN NULL ELSE resources END AS resources, eventid, log_file";

/// Where events are read from: the archive's `cloudtrail`, or the events one pass kept
/// ([`super::pass`]), which has the action columns under their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    Archive,
    Kept,
}

impl Events {
    fn from(self) -> String {
        match self {
            Events::Archive => format!("{ACTION_COLUMNS} FROM cloudtrail"),
            Events::Kept => format!(
                "eventtime, account_id, region, eventsource, eventname, errorcode, access_key_id, \
                 principal, sourceipaddress, useragent, readonly, resources, eventid, log_file \
                 FROM {}",
                super::pass::EVENTS_TABLE
            ),
        }
    }

    /// The access key, the principal and the session issuer, as this source names them.
    fn identity_columns(self) -> [&'static str; 3] {
        match self {
            Events::Archive => [
                "useridentity.accesskeyid",
                "useridentity.arn",
                "useridentity.sessioncontext.sessionissuer.arn",
            ],
            Events::Kept => ["access_key_id", "principal", "issuer_arn"],
        }
    }
}

/// Every event made with one of `keys`, in time order.
pub async fn actions(
    ctx: &SessionContext,
    events: Events,
    keys: &BTreeSet<String>,
) -> Result<Vec<Action>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = keys.iter().map(|k| quote(k)).collect();
    let [key, _, _] = events.identity_columns();
    let sql = format!(
        "SELECT {} WHERE {key} IN ({}) ORDER BY eventtime, eventid",
        events.from(),
        list.join(", ")
    );
    let mut out = Vec::new();
    for batch in ctx.sql(&sql).await?.collect().await? {
        out.extend(actions_of(&batch)?);
    }
    Ok(out)
}

/// The keys `principal` (a user, role or session ARN) acted with, as events name it either as
/// the principal or as the role a session was issued for.
pub async fn keys_of_principal(
    ctx: &SessionContext,
    events: Events,
    principal: &str,
) -> Result<BTreeSet<String>> {
    let arn = quote(principal);
    let [key, who, issuer] = events.identity_columns();
    let table = match events {
        Events::Archive => "cloudtrail",
        Events::Kept => super::pass::EVENTS_TABLE,
    };
    let sql = format!(
        "SELECT DISTINCT {key} AS k FROM {table} \
         WHERE ({who} = {arn} OR {issuer} = {arn}) AND {key} IS NOT NULL AND {key} <> ''"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut keys = BTreeSet::new();
    for batch in &batches {
        keys.extend(
            text_cells(batch, "k")
                .map_err(Error::Runtime)?
                .into_iter()
                .flatten(),
        );
    }
    Ok(keys)
}

/// The event `event_id`: who made it (for its origin) and the event itself.
pub async fn event(
    ctx: &SessionContext,
    event_id: &str,
) -> Result<Option<(EventIdentity, Action)>> {
    let found = events_where(ctx, &format!("eventid = {} LIMIT 1", quote(event_id))).await?;
    Ok(found.into_iter().next())
}

/// Who made each event with one of `event_ids`, by event id.
pub async fn identities(
    ctx: &SessionContext,
    event_ids: &BTreeSet<String>,
) -> Result<Vec<(String, EventIdentity)>> {
    if event_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = event_ids.iter().map(|k| quote(k)).collect();
    let found = events_where(ctx, &format!("eventid IN ({})", list.join(", "))).await?;
    Ok(found
        .into_iter()
        .map(|(identity, action)| (action.eventid.unwrap_or_default(), identity))
        .collect())
}

/// The events a `WHERE` clause selects, with who made each.
async fn events_where(ctx: &SessionContext, filter: &str) -> Result<Vec<(EventIdentity, Action)>> {
    let sql = format!(
        "SELECT {ACTION_COLUMNS}, useridentity.type AS identity_type, \
         useridentity.invokedby AS invoked_by, useridentity.principalid AS principal_id, \
         sessioncredentialfromconsole, useridentity.identityprovider AS identity_provider, \
         useridentity.username AS user_name, \
         json_extract_scalar(responseelements, '$.credentials.accessKeyId') AS issued_key \
         FROM cloudtrail WHERE {filter}"
    );
    let mut out = Vec::new();
    for batch in ctx.sql(&sql).await?.collect().await? {
        let c = columns(
            &batch,
            &[
                "identity_type",
                "principal",
                "access_key_id",
                "invoked_by",
                "principal_id",
                "sessioncredentialfromconsole",
                "identity_provider",
                "user_name",
                "issued_key",
            ],
        )?;
        let actions = actions_of(&batch)?;
        for (row, action) in actions.into_iter().enumerate() {
            let identity = EventIdentity {
                identity_type: c[0][row].clone(),
                arn: c[1][row].clone(),
                access_key_id: c[2][row].clone(),
                invoked_by: c[3][row].clone(),
                principal_id: c[4][row].clone(),
                from_console: c[5][row].as_deref() == Some("true"),
                identity_provider: c[6][row].clone(),
                user_name: c[7][row].clone(),
                issued_key: c[8][row].clone(),
            };
            out.push((identity, action));
        }
    }
    Ok(out)
}

/// The rows of a query selecting [`ACTION_COLUMNS`].
fn actions_of(batch: &RecordBatch) -> Result<Vec<Action>> {
    let names = [
        "eventtime",
        "account_id",
        "region",
        "eventsource",
        "eventname",
        "errorcode",
        "access_key_id",
        "principal",
        "sourceipaddress",
        "useragent",
        "readonly",
        "eventid",
        "log_file",
    ];
    let c = columns(batch, &names)?;
    let resources = resource_arns(batch);
    Ok((0..batch.num_rows())
        .map(|row| {
            let cell = |i: usize| c[i][row].clone();
            Action {
                eventtime: cell(0),
                account_id: cell(1),
                region: cell(2),
                eventsource: cell(3),
                eventname: cell(4),
                errorcode: cell(5),
                access_key_id: cell(6),
                principal: cell(7),
                sourceipaddress: cell(8),
                useragent: cell(9),
                read_only: cell(10).as_deref() == Some("true"),
                resources: resources.get(row).cloned().unwrap_or_default(),
                eventid: cell(11),
                log_file: cell(12),
            }
        })
        .collect())
}

/// The named columns of `batch` as text.
fn columns(batch: &RecordBatch, names: &[&str]) -> Result<Vec<Vec<Option<String>>>> {
    names
        .iter()
        .map(|n| text_cells(batch, n).map_err(Error::Runtime))
        .collect()
}

/// Per row, the `arn`s of the `resources` list.
fn resource_arns(batch: &RecordBatch) -> Vec<Vec<String>> {
    let rows = batch.num_rows();
    let Some(list) = batch
        .column_by_name("resources")
        .and_then(|c| c.as_list_opt::<i32>())
    else {
        return vec![Vec::new(); rows];
    };
    (0..rows)
        .map(|row| {
            if list.is_null(row) {
                return Vec::new();
            }
            let items = list.value(row);
            let Some(arns) = items
                .as_struct_opt()
                .and_then(|s| s.column_by_name("arn"))
                .and_then(|a| a.as_string_opt::<i32>().cloned())
            else {
                return Vec::new();
            };
            arns.iter().flatten().map(str::to_string).collect()
        })
        .collect()
}
