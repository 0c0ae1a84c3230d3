//! The partition columns Athena users declare over a CloudTrail bucket, derived from each
//! object's key: the user guide's `year`, `month`, `day`; partition projection's `timestamp`
//! (or `date`) as `'yyyy/MM/dd'`; the analytics bootstrap's `date_partition`,
//! `account_partition`, `region_partition`; and `account` / `accountid` of organization trails.
//! They are the folder names of the key (`.../AWSLogs/<account>/CloudTrail/<region>/2017/06/01/`),
//! as text, so `year = '2017'` means what it means in Athena, and filters on them prune the
//! listing exactly (see [`super::filters`]).
//!
//! They are columns of `cloudtrail` (so a CTE or view sees them) but `SELECT *` leaves them out,
//! as `region` and `account_id` already say the same: [`hide_from_wildcards`] rewrites the
//! statement. Values are computed from `log_file` above the scan, so the raw and lake scans
//! (and a cluster's) need nothing of their own.

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
    VisitMut, VisitorMut,
};

use crate::archive::{ParsedKey, parse_key};
use crate::decode::schema::{LOG_FILE, cloudtrail_schema};

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

    fn from_label(label: &str) -> Option<KeyPart> {
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

/// The `cloudtrail` table's schema: the decoded columns, then the partition columns.
pub fn table_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let base = cloudtrail_schema();
        let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
        // Nullable: a key outside CloudTrail's layout (a location inside it) has no folder date.
        fields.extend(
            KEY_PARTITIONS
                .iter()
                .map(|(name, _)| Field::new(*name, DataType::Utf8, true)),
        );
        Arc::new(Schema::new(fields))
    });
    Arc::clone(&SCHEMA)
}

/// Plans a scan of `cloudtrail` with `projection` over the table schema: `scan` plans the
/// decoded columns (indices into [`cloudtrail_schema`]), and partition columns are computed
/// from `log_file` above it.
pub async fn scan_with_key_parts<F, Fut>(
    state: &dyn Session,
    projection: Option<&Vec<usize>>,
    scan: F,
) -> Result<Arc<dyn ExecutionPlan>>
where
    F: FnOnce(Option<Vec<usize>>) -> Fut,
    Fut: Future<Output = Result<Arc<dyn ExecutionPlan>>>,
{
    let base = cloudtrail_schema().fields().len();
    let wanted: Vec<usize> = match projection {
        Some(p) => p.clone(),
        None => (0..table_schema().fields().len()).collect(),
    };
    if wanted.iter().all(|&i| i < base) {
        return scan(Some(wanted)).await;
    }
    let log_file = cloudtrail_schema().index_of(LOG_FILE)?;
    let mut decoded: Vec<usize> = wanted.iter().copied().filter(|&i| i < base).collect();
    if !decoded.contains(&log_file) {
        decoded.push(log_file);
    }
    let input = scan(Some(decoded.clone())).await?;
    let input_schema = DFSchema::try_from(input.schema())?;
    let udf = Arc::new(ScalarUDF::new_from_impl(KeyPartFunction::new()));
    let table = table_schema();
    let exprs = wanted
        .iter()
        .map(|&i| {
            let name = table.field(i).name().clone();
            let logical = if i < base {
                col(datafusion::common::Column::new_unqualified(&name))
            } else {
                let part = key_part(&name).map_or("", KeyPart::label);
                udf.call(vec![col(LOG_FILE), lit(part)])
            };
            Ok((state.create_physical_expr(logical, &input_schema)?, name))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
}

/// `cloudtrail_key_part(log_file, 'year' | 'month' | 'day' | 'date' | 'account' | 'region')`:
/// the partition value of an object key. Registered in every session, so a cluster's executors
/// can run the projection [`scan_with_key_parts`] plans.
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
    if let Statement::Statement(sql) = statement {
        let _ = sql.visit(&mut WildcardHider);
    }
}

struct WildcardHider;

impl VisitorMut for WildcardHider {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> std::ops::ControlFlow<()> {
        hide_in(&mut query.body);
        std::ops::ControlFlow::Continue(())
    }
}

fn hide_in(body: &mut SetExpr) {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            hide_in(left);
            hide_in(right);
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
                let mut excluded: Vec<ObjectName> = match options.opt_exclude.take() {
                    None => Vec::new(),
                    Some(ExcludeSelectItem::Single(name)) => vec![name],
                    Some(ExcludeSelectItem::Multiple(list)) => list,
                };
                for (name, _) in KEY_PARTITIONS {
                    if !excluded
                        .iter()
                        .any(|e| e.to_string().eq_ignore_ascii_case(name))
                    {
                        excluded.push(ObjectName::from(vec![Ident::new(*name)]));
                    }
                }
                options.opt_exclude = Some(ExcludeSelectItem::Multiple(excluded));
            }
        }
        _ => {}
    }
}
