//! Columns of `cloudtrail` that the Athena and CloudTrail Lake dialects have and the decoded
//! record does not:
//! - the partition columns Athena users declare over a CloudTrail bucket, derived from each
//!   object's key: the user guide's `year`, `month`, `day`; partition projection's `timestamp`
//!   (or `date`) as `'yyyy/MM/dd'`; the analytics bootstrap's `date_partition`,
//!   `account_partition`, `region_partition`; and `account` / `accountid` of organization
//!   trails. They are the folder names of the key
//!   (`.../AWSLogs/<account>/CloudTrail/<region>/2017/06/01/`), as text, so `year = '2017'`
//!   means what it means in Athena, and filters on them prune the listing exactly (see
//!   [`super::filters`]). Values are computed from `log_file` above the scan, so the raw and
//!   lake scans (and a cluster's) need nothing of their own;
//! - Lake's `eventjson`, the record's JSON text as its log file holds it, which only the raw
//!   scan has (it is decoded only when a query names it; a lake does not keep it).
//!
//! They are columns of `cloudtrail` (so a CTE or view sees them) but `SELECT *` leaves them out
//! (the partitions repeat `region`, `account_id` and the key; `eventjson` repeats the record):
//! [`hide_from_wildcards`] rewrites the statement.

use std::future::Future;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::{col, lit};
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{
    ExcludeSelectItem, Ident, ObjectName, ObjectNamePart, Query, SelectItem, SetExpr, TableFactor,
    VisitMut, VisitorMut, WildcardAdditionalOptions,
};

use crate::archive::{ParsedKey, parse_key};
use crate::decode::schema::{EVENT_JSON, LOG_FILE, cloudtrail_schema};

/// What of the key a partition column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPart {
    Year,
    Month,
    Day,
    /// The delivery date as `yyyy/MM/dd`.
    Date,
    Account,
    Region,
}

/// Every partition column name, in the order they follow the table's own columns.
pub const KEY_PARTITIONS: &[(&str, KeyPart)] = &[
    ("year", KeyPart::Year),
    ("month", KeyPart::Month),
    ("day", KeyPart::Day),
    ("timestamp", KeyPart::Date),
    ("date", KeyPart::Date),
    ("date_partition", KeyPart::Date),
    ("account", KeyPart::Account),
    ("accountid", KeyPart::Account),
    ("account_partition", KeyPart::Account),
    ("region_partition", KeyPart::Region),
];

/// The partition column called `name`, if it is one.
pub fn key_part(name: &str) -> Option<KeyPart> {
    KEY_PARTITIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
}

impl KeyPart {
    fn label(self) -> &'static str {
        match self {
            KeyPart::Year => "year",
            KeyPart::Month => "month",
            KeyPart::Day => "day",
            KeyPart::Date => "date",
            KeyPart::Account => "account",
            KeyPart::Region => "region",
        }
    }

    pub fn from_label(label: &str) -> Option<KeyPart> {
        KEY_PARTITIONS
            .iter()
            .map(|(_, p)| *p)
            .find(|p| p.label() == label)
    }

    /// The value of this column for an object with `key`.
    pub fn value(self, key: &ParsedKey) -> String {
        match self {
            KeyPart::Year => key.date.format("%Y").to_string(),
            KeyPart::Month => key.date.format("%m").to_string(),
            KeyPart::Day => key.date.format("%d").to_string(),
            KeyPart::Date => key.date.format("%Y/%m/%d").to_string(),
            KeyPart::Account => key.account_id.clone(),
            KeyPart::Region => key.region.clone(),
        }
    }
}

/// The `cloudtrail` table's schema: the decoded columns, the partition columns, `eventjson`.
pub fn table_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| table_schema_with(&[]));
    Arc::clone(&SCHEMA)
}

/// [`table_schema`] with the user's own partition names ([`PartitionNames`]) after ours.
pub fn table_schema_with(extra: &[(String, KeyPart)]) -> SchemaRef {
    let base = cloudtrail_schema();
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    // Nullable: a key outside CloudTrail's layout (a location inside it) has no folder date.
    let names = KEY_PARTITIONS
        .iter()
        .map(|(n, _)| *n)
        .chain(extra.iter().map(|(n, _)| n.as_str()));
    fields.extend(names.map(|name| Field::new(name, DataType::Utf8, true)));
    fields.push(Field::new(EVENT_JSON, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// Partition names a user declared for a scheme we do not cover (`--partition-names
/// dt=date,acct=account`): each is one more column holding that part of the key, pruning the
/// listing as ours do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionNames(pub Vec<(String, KeyPart)>);

impl PartitionNames {
    /// Parses `name=part,...`, `part` one of `year`, `month`, `day`, `date` (`yyyy/MM/dd`),
    /// `account`, `region`.
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut names: Vec<(String, KeyPart)> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((name, part)) = item.split_once('=') else {
                return Err(format!("'{item}' is not NAME=PART (e.g. dt=date)"));
            };
            let name = name.trim().to_lowercase();
            let Some(part) = KeyPart::from_label(part.trim()) else {
                return Err(format!(
                    "'{}' is not a part of the key: use year, month, day, date, account or region",
                    part.trim()
                ));
            };
            let identifier = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !identifier {
                return Err(format!(
                    "'{name}' is not a column name (letters, digits and _)"
                ));
            }
            if table_schema().field_with_name(&name).is_ok()
                || names.iter().any(|(n, _)| *n == name)
            {
                return Err(format!(
                    "'{name}' is already a column of cloudtrail: choose another name"
                ));
            }
            names.push((name, part));
        }
        Ok(PartitionNames(names))
    }

    /// The part a column name holds: ours, or one of these.
    pub fn part_of(&self, name: &str) -> Option<KeyPart> {
        key_part(name).or_else(|| self.0.iter().find(|(n, _)| n == name).map(|(_, p)| *p))
    }

    /// Leaves these names out of every `*` over `cloudtrail`, as ours are.
    pub fn hide(&self, statements: &mut [Statement]) {
        let names: Vec<&str> = self.0.iter().map(|(n, _)| n.as_str()).collect();
        if names.is_empty() {
            return;
        }
        for statement in statements {
            hide_names_from_wildcards(statement, &names);
        }
    }

    /// Our name for the part a user-named column holds, so filters on it prune as ours do.
    pub fn canonical(&self, name: &str) -> Option<&'static str> {
        let (_, part) = self.0.iter().find(|(n, _)| n == name)?;
        KEY_PARTITIONS
            .iter()
            .find(|(_, p)| p == part)
            .map(|(n, _)| *n)
    }
}

/// What a scan below [`scan_with_dialect_columns`] decodes: columns of [`cloudtrail_schema`],
/// then `eventjson` when `record_json` is set.
pub struct Decoded {
    pub columns: Vec<usize>,
    pub record_json: bool,
}

/// Plans a scan of `cloudtrail` with `projection` over [`table_schema`]: `scan` plans what is
/// decoded, and the partition columns are computed from `log_file` above it.
pub async fn scan_with_dialect_columns<F, Fut>(
    state: &dyn Session,
    names: &PartitionNames,
    projection: Option<&Vec<usize>>,
    scan: F,
) -> Result<Arc<dyn ExecutionPlan>>
where
    F: FnOnce(Decoded) -> Fut,
    Fut: Future<Output = Result<Arc<dyn ExecutionPlan>>>,
{
    let table = table_schema_with(&names.0);
    let base = cloudtrail_schema().fields().len();
    let event_json = table.fields().len() - 1;
    let wanted: Vec<usize> = match projection {
        Some(p) => p.clone(),
        None => (0..table.fields().len()).collect(),
    };
    let record_json = wanted.contains(&event_json);
    let mut columns: Vec<usize> = wanted.iter().copied().filter(|&i| i < base).collect();
    if wanted.iter().all(|&i| i < base || i == event_json)
        && wanted
            .iter()
            .position(|&i| i == event_json)
            .is_none_or(|p| p == wanted.len() - 1)
    {
        return scan(Decoded {
            columns,
            record_json,
        })
        .await;
    }
    let log_file = cloudtrail_schema().index_of(LOG_FILE)?;
    if !columns.contains(&log_file) {
        columns.push(log_file);
    }
    let input = scan(Decoded {
        columns,
        record_json,
    })
    .await?;
    let input_schema = DFSchema::try_from(input.schema())?;
    let udf = Arc::new(ScalarUDF::new_from_impl(KeyPartFunction::new()));
    let exprs = wanted
        .iter()
        .map(|&i| {
            let name = table.field(i).name().clone();
            let logical = match names.part_of(&name) {
                Some(part) if i >= base => udf.call(vec![col(LOG_FILE), lit(part.label())]),
                _ => col(datafusion::common::Column::new_unqualified(&name)),
            };
            Ok((state.create_physical_expr(logical, &input_schema)?, name))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
}

/// The error for `eventjson` over a lake, which keeps the decoded columns only.
pub fn no_record_json_in_lake() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Plan(
        "eventjson is the record's text in its log file, which a lake does not keep: \
         query it without --lake, or name the columns you need"
            .into(),
    )
}

/// `cloudtrail_key_part(log_file, 'year' | 'month' | 'day' | 'date' | 'account' | 'region')`:
/// the partition value of an object key. Registered in every session, so a cluster's executors
/// can run the projection [`scan_with_dialect_columns`] plans.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KeyPartFunction {
    signature: Signature,
}

impl KeyPartFunction {
    pub fn new() -> Self {
        KeyPartFunction {
            signature: Signature::exact(
                vec![DataType::Utf8, DataType::Utf8],
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for KeyPartFunction {
    fn default() -> Self {
        Self::new()
    }
}

pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(KeyPartFunction::new())
}

impl ScalarUDFImpl for KeyPartFunction {
    fn name(&self) -> &str {
        "cloudtrail_key_part"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let part = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(label))) => KeyPart::from_label(label),
            _ => None,
        };
        let Some(part) = part else {
            return exec_err!(
                "cloudtrail_key_part's second argument is one of 'year', 'month', 'day', 'date', 'account', 'region'"
            );
        };
        let keys = args.args[0].to_array(args.number_rows)?;
        let Some(keys) = keys.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("cloudtrail_key_part takes a log_file key as text");
        };
        let mut out = StringBuilder::with_capacity(keys.len(), keys.len() * 4);
        // Rows of one object are adjacent: parse each key once.
        let mut last: Option<(&str, Option<String>)> = None;
        for key in keys.iter() {
            let Some(key) = key else {
                out.append_null();
                continue;
            };
            if last.as_ref().is_none_or(|(k, _)| *k != key) {
                last = Some((key, parse_key(key).map(|k| part.value(&k))));
            }
            match last.as_ref().and_then(|(_, v)| v.as_deref()) {
                Some(v) => out.append_value(v),
                None => out.append_null(),
            }
        }
        let array: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(array))
    }
}

/// Leaves the partition columns out of every `*` over `cloudtrail` (they repeat `region`,
/// `account_id` and the key), unless the user excluded columns of their own choosing too, in
/// which case ours are added to theirs. Named columns are untouched.
pub fn hide_from_wildcards(statement: &mut Statement) {
    let ours: Vec<&str> = KEY_PARTITIONS
        .iter()
        .map(|(n, _)| *n)
        .chain([EVENT_JSON])
        .collect();
    hide_names_from_wildcards(statement, &ours);
}

/// Leaves `names` out of every `*` over `cloudtrail` (the user's own partition names).
pub fn hide_names_from_wildcards(statement: &mut Statement, names: &[&str]) {
    if let Statement::Statement(sql) = statement {
        let _ = sql.visit(&mut WildcardHider(names));
    }
}

struct WildcardHider<'a>(&'a [&'a str]);

impl VisitorMut for WildcardHider<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> std::ops::ControlFlow<()> {
        hide_in(&mut query.body, self.0);
        std::ops::ControlFlow::Continue(())
    }
}

fn hide_in(body: &mut SetExpr, hidden: &[&str]) {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            hide_in(left, hidden);
            hide_in(right, hidden);
        }
        SetExpr::Select(select) => {
            // The names `cloudtrail` is known by in this FROM: its own, or its alias.
            let mut names: Vec<String> = Vec::new();
            for table in &select.from {
                let factors =
                    std::iter::once(&table.relation).chain(table.joins.iter().map(|j| &j.relation));
                for factor in factors {
                    if let TableFactor::Table { name, alias, .. } = factor
                        && name.0.last().is_some_and(|part| {
                            matches!(part, ObjectNamePart::Identifier(i) if i.value.eq_ignore_ascii_case("cloudtrail"))
                        })
                    {
                        names.push(
                            alias
                                .as_ref()
                                .map_or("cloudtrail".to_string(), |a| a.name.value.to_lowercase()),
                        );
                    }
                }
            }
            if names.is_empty() {
                return;
            }
            for item in &mut select.projection {
                let options = match item {
                    SelectItem::Wildcard(options) => options,
                    SelectItem::QualifiedWildcard(kind, options)
                        if names.contains(&kind.to_string().to_lowercase()) =>
                    {
                        options
                    }
                    _ => continue,
                };
                exclude(options, hidden);
            }
        }
        _ => {}
    }
}

/// Adds `names` to a wildcard's `EXCLUDE` list (kept with the user's own exclusions).
pub(crate) fn exclude(options: &mut WildcardAdditionalOptions, names: &[&str]) {
    let mut excluded: Vec<ObjectName> = match options.opt_exclude.take() {
        None => Vec::new(),
        Some(ExcludeSelectItem::Single(name)) => vec![name],
        Some(ExcludeSelectItem::Multiple(list)) => list,
    };
    for &name in names {
        if !excluded
            .iter()
            .any(|e| e.to_string().eq_ignore_ascii_case(name))
        {
            excluded.push(ObjectName::from(vec![Ident::new(name)]));
        }
    }
    options.opt_exclude = Some(ExcludeSelectItem::Multiple(excluded));
}
