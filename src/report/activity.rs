//! The report's activity overview: what happened in the period, for people who would rather look
//! than read. The numbers come from the SQL under `queries/report/`: `activity_rows.sql` is
//! computed for every event during the report's one scan and counted into the `activity` rollup
//! ([`Rollup`]); every table here is a small query over it.

use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Period;
use crate::error::{Error, Result};

static QUERIES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/report_queries.rs"));

fn query(name: &str) -> Result<&'static str> {
    QUERIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, sql)| *sql)
        .ok_or_else(|| Error::Runtime(format!("queries/report/{name}.sql is not built in")))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivitySection {
    pub totals: Totals,
    /// One row per day, account and region with events; days without any are listed in
    /// `quiet_days` so a chart shows them as zero.
    pub per_day: Vec<DayCount>,
    pub quiet_days: Vec<String>,
    pub top_principals: Vec<PrincipalCount>,
    pub errors_by_code: Vec<ErrorCount>,
    pub console_logins: Vec<ConsoleLogins>,
    /// Console sign-ins by account and place (country and network), when the report was given
    /// `--geoip` or `--asn`: a sign-in from an unexpected country stands out here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_login_places: Option<Vec<ConsoleLoginPlace>>,
    pub root_usage: Vec<RootUsage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub events: u64,
    pub errors: u64,
    pub accounts: u64,
    pub regions: u64,
    pub principals: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayCount {
    pub day: String,
    pub account_id: String,
    pub region: String,
    pub events: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrincipalCount {
    pub principal: String,
    pub principal_type: String,
    pub events: u64,
    pub errors: u64,
    pub accounts: u64,
    /// Where the principal called from, busiest first (at most [`PLACES_PER_PRINCIPAL`]), when
    /// the report was given `--geoip` or `--asn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub places: Option<Vec<PlaceCount>>,
}

/// Places listed per principal.
pub const PLACES_PER_PRINCIPAL: usize = 3;

/// Where events came from: a country and a network (autonomous system), either unknown (NULL)
/// when the data files do not locate the address (AWS services call from a name, not an address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

impl Place {
    /// `DE, AS3320 Deutsche Telekom AG`, `AS16509`, `unknown`.
    pub fn describe(&self) -> String {
        let network = match (self.asn, &self.as_org) {
            (Some(n), Some(org)) => Some(format!("AS{n} {org}")),
            (Some(n), None) => Some(format!("AS{n}")),
            (None, Some(org)) => Some(org.clone()),
            (None, None) => None,
        };
        match (&self.country, network) {
            (Some(c), Some(n)) => format!("{c}, {n}"),
            (Some(c), None) => c.clone(),
            (None, Some(n)) => n,
            (None, None) => "unknown".to_string(),
        }
    }
}

/// Events from one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceCount {
    #[serde(flatten)]
    pub place: Place,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLoginPlace {
    pub account_id: String,
    #[serde(flatten)]
    pub place: Place,
    pub succeeded: u64,
    pub failed: u64,
    pub principals: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorCount {
    pub errorcode: String,
    pub events: u64,
    pub principals: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLogins {
    pub account_id: String,
    pub with_mfa: u64,
    pub without_mfa: u64,
    pub failed: u64,
    pub principals: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootUsage {
    pub account_id: String,
    pub day: String,
    pub eventname: String,
    pub events: u64,
    pub errors: u64,
}

/// Where an event came from, added to `activity_rows.sql`'s columns when the report locates
/// addresses (`--geoip`, `--asn`).
const PLACE_COLUMNS: &str = "ip_country(sourceipaddress) AS country, \
     ip_asn(sourceipaddress) AS asn, ip_as_org(sourceipaddress) AS as_org";

/// `queries/report/activity_rows.sql`: the columns the shared scan computes for every event, and
/// with `places` where each event came from.
pub fn rows_sql(places: bool) -> Result<String> {
    let sql = query("activity_rows")?;
    if !places {
        return Ok(sql.to_string());
    }
    // The file ends with its one FROM: the place columns join its SELECT list.
    match sql.trim_end().rsplit_once("\nFROM cloudtrail") {
        Some((list, "")) => Ok(format!("{list},\n  {PLACE_COLUMNS}\nFROM cloudtrail")),
        _ => Err(Error::Runtime(
            "queries/report/activity_rows.sql must end with FROM cloudtrail".into(),
        )),
    }
}

/// Counts events by every column of `activity_rows.sql`, batch by batch as the scan delivers
/// them: memory grows with the distinct combinations (days × principals × events), not with the
/// events.
#[derive(Default)]
pub struct Rollup {
    converter: Option<(RowConverter, SchemaRef)>,
    /// Counts by each combination's row bytes: looked up by the batch's rows as they are (no
    /// allocation for a combination seen before, which is nearly every event).
    counts: datafusion::common::HashMap<Box<[u8]>, u64>,
}

impl Rollup {
    pub fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.converter.is_none() {
            let fields = batch
                .schema()
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect();
            self.converter = Some((arrow_ok(RowConverter::new(fields))?, batch.schema()));
        }
        let Some((converter, _)) = &self.converter else {
            return Ok(());
        };
        let rows = arrow_ok(converter.convert_columns(batch.columns()))?;
        for row in rows.iter() {
            match self.counts.get_mut(row.as_ref()) {
                Some(count) => *count += 1,
                None => {
                    self.counts.insert(row.as_ref().into(), 1);
                }
            }
        }
        Ok(())
    }

    /// The rollup: the columns of `activity_rows.sql` and `events`, in a fixed order.
    fn finish(self) -> Result<Option<RecordBatch>> {
        let Some((converter, schema)) = self.converter else {
            return Ok(None);
        };
        let mut counted: Vec<(Box<[u8]>, u64)> = self.counts.into_iter().collect();
        // Row bytes compare as the rows do: the rollup's order is the columns' order.
        counted.sort_by(|a, b| a.0.cmp(&b.0));
        let parser = converter.parser();
        let mut columns =
            arrow_ok(converter.convert_rows(counted.iter().map(|(row, _)| parser.parse(row))))?;
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        // Days are counted as dates and read as text (`2026-10-01`, as SQL casts them).
        for (column, field) in columns.iter_mut().zip(fields.iter_mut()) {
            if field.data_type() == &DataType::Date32 {
                *column = arrow_ok(arrow::compute::cast(column, &DataType::Utf8))?;
                *field = field.clone().with_data_type(DataType::Utf8);
            }
        }
        columns.push(Arc::new(Int64Array::from_iter_values(
            counted.iter().map(|(_, n)| *n as i64),
        )));
        fields.push(Field::new("events", DataType::Int64, false));
        Ok(Some(arrow_ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        ))?))
    }
}

fn arrow_ok<T>(result: std::result::Result<T, arrow::error::ArrowError>) -> Result<T> {
    result.map_err(|e| Error::Runtime(format!("the activity rollup: {e}")))
}

/// Every table of the activity overview, from the rollup (with `places`, the rollup has the
/// place columns of [`rows_sql`]).
pub async fn summarize(rollup: Rollup, period: &Period, places: bool) -> Result<ActivitySection> {
    let scratch = SessionContext::new();
    match rollup.finish()? {
        Some(batch) => {
            scratch.register_table(
                "activity",
                Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?),
            )?;
        }
        None => {
            // No events in the period: the same queries over an empty rollup of the same shape.
            scratch
                .sql(&format!(
                    "CREATE VIEW activity AS SELECT * FROM ({}) LIMIT 0",
                    empty_rollup(places)
                ))
                .await?;
        }
    }
    let per_day: Vec<DayCount> = rows(&scratch, "events_per_day").await?;
    let busy: std::collections::BTreeSet<&str> = per_day.iter().map(|d| d.day.as_str()).collect();
    let quiet_days = days(period)
        .into_iter()
        .filter(|d| !busy.contains(d.as_str()))
        .collect();
    let mut top_principals: Vec<PrincipalCount> = rows(&scratch, "top_principals").await?;
    let console_login_places = match places {
        true => {
            // principal_places.sql reads the top principals by this name.
            scratch
                .sql(&format!(
                    "CREATE VIEW top_principals AS {}",
                    query("top_principals")?
                ))
                .await?;
            let found: Vec<PrincipalPlace> = rows(&scratch, "principal_places").await?;
            for p in &mut top_principals {
                let mut of_p: Vec<PlaceCount> = found
                    .iter()
                    .filter(|f| f.principal == p.principal)
                    .map(|f| f.place.clone())
                    .collect();
                of_p.truncate(PLACES_PER_PRINCIPAL);
                p.places = Some(of_p);
            }
            Some(rows(&scratch, "console_login_places").await?)
        }
        false => None,
    };
    Ok(ActivitySection {
        totals: rows::<Totals>(&scratch, "totals")
            .await?
            .into_iter()
            .next()
            .unwrap_or_default(),
        quiet_days,
        top_principals,
        errors_by_code: rows(&scratch, "errors_by_code").await?,
        console_logins: rows(&scratch, "console_logins").await?,
        console_login_places,
        root_usage: rows(&scratch, "root_usage").await?,
        per_day,
    })
}

/// `queries/report/principal_places.sql`'s rows.
#[derive(Deserialize)]
struct PrincipalPlace {
    principal: String,
    #[serde(flatten)]
    place: PlaceCount,
}

/// A literal rollup row, to give an empty `activity` its columns.
fn empty_rollup(places: bool) -> String {
    let place = match places {
        true => {
            "CAST(NULL AS VARCHAR) AS country, CAST(NULL AS INT UNSIGNED) AS asn, \
                 CAST(NULL AS VARCHAR) AS as_org, "
        }
        false => "",
    };
    format!(
        "SELECT '' AS day, '' AS account_id, '' AS region, '' AS principal, '' AS principal_type, \
         '' AS eventsource, '' AS eventname, CAST(NULL AS VARCHAR) AS errorcode, false AS root_usage, \
         CAST(NULL AS VARCHAR) AS login_mfa, CAST(NULL AS VARCHAR) AS login_result, {place}\
         CAST(0 AS BIGINT) AS events"
    )
}

/// Every day of the period, as `YYYY-MM-DD`.
fn days(period: &Period) -> Vec<String> {
    let mut out = Vec::new();
    let mut day = period.from.date_naive();
    while day
        .and_hms_opt(0, 0, 0)
        .is_some_and(|t| t.and_utc() < period.to)
    {
        out.push(day.format("%Y-%m-%d").to_string());
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    out
}

/// Runs `queries/report/<name>.sql` and reads its rows as `T` (columns by name).
async fn rows<T: DeserializeOwned>(ctx: &SessionContext, name: &str) -> Result<Vec<T>> {
    let batches = ctx.sql(query(name)?).await?.collect().await?;
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buf);
        for batch in &batches {
            writer
                .write(batch)
                .map_err(|e| Error::Runtime(format!("queries/report/{name}.sql: {e}")))?;
        }
        writer
            .finish()
            .map_err(|e| Error::Runtime(format!("queries/report/{name}.sql: {e}")))?;
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .map_err(|e| Error::Runtime(format!("queries/report/{name}.sql: row {line}: {e}")))
        })
        .collect()
}
