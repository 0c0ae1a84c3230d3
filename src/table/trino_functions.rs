//! Trino's (Athena's and CloudTrail Lake's) date, regex and JSON functions, with Trino's
//! argument order, units and NULL behaviour, so published queries run as they are:
//! `from_iso8601_timestamp`, `to_iso8601`, `day_of_week`, `date_add`, `date_diff`,
//! `date_parse`, `date_format`, `format_datetime`, the fields `year` to `second`, `regexp_extract`, `json_array_length`,
//! two-argument `replace`, and the aggregate `count_if`.
//!
//! Each function is one row-wise Rust function over Arrow arrays; [`TrinoFunction`] gives them
//! DataFusion's signature plumbing once. Arguments are cast to one canonical type per position
//! (timestamps to microseconds in UTC, as `eventtime` is), so a string literal works where
//! Trino would accept one.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, Timelike, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(count_if::udaf());
    // Trino's approx_percentile(x, p) is DataFusion's approx_percentile_cont(x, p).
    ctx.register_udaf(
        datafusion::functions_aggregate::approx_percentile_cont::approx_percentile_cont_udaf()
            .as_ref()
            .clone()
            .with_aliases(["approx_percentile"]),
    );
    for udf in element_at::udfs() {
        ctx.register_udf(udf);
    }
    for udf in ipaddress::udfs() {
        ctx.register_udf(udf);
    }
    for f in FUNCTIONS {
        ctx.register_udf(ScalarUDF::from(TrinoFunction {
            spec: f,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }
}

/// Runs `body` over the arguments as arrays; the answer is a scalar when every argument was.
fn over_arrays(
    args: &ScalarFunctionArgs,
    body: impl FnOnce(&[ArrayRef]) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let out = body(&arrays)?;
    Ok(if all_scalar {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
    } else {
        ColumnarValue::Array(out)
    })
}

/// One argument's canonical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Arg {
    Text,
    Int,
    Time,
}

impl Arg {
    fn data_type(self) -> DataType {
        match self {
            Arg::Text => DataType::Utf8,
            Arg::Int => DataType::Int64,
            Arg::Time => time_type(),
        }
    }
}

fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A function: its name, the argument lists it takes, what it returns, and its body over
/// arrays already cast to the argument types (all of one length).
#[derive(Debug)]
struct Spec {
    name: &'static str,
    arities: &'static [&'static [Arg]],
    returns: Arg,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// Over arrays already cast to the argument types.
    Arrays(fn(&[ArrayRef]) -> Result<ArrayRef>),
    /// One field of each timestamp.
    Part(fn(&DateTime<Utc>) -> i64),
}

const FUNCTIONS: &[Spec] = &[
    Spec {
        name: "from_iso8601_timestamp",
        arities: &[&[Arg::Text]],
        returns: Arg::Time,
        body: Body::Arrays(from_iso8601_timestamp),
    },
    Spec {
        name: "to_iso8601",
        arities: &[&[Arg::Time]],
        returns: Arg::Text,
        body: Body::Arrays(to_iso8601),
    },
    Spec {
        name: "day_of_week",
        arities: &[&[Arg::Time]],
        returns: Arg::Int,
        body: Body::Arrays(day_of_week),
    },
    part("year", |t| t.year().into()),
    part("quarter", |t| (t.month0() / 3 + 1).into()),
    part("month", |t| t.month().into()),
    part("week", |t| t.iso_week().week().into()),
    part("week_of_year", |t| t.iso_week().week().into()),
    part("day", |t| t.day().into()),
    part("day_of_month", |t| t.day().into()),
    part("day_of_year", |t| t.ordinal().into()),
    part("hour", |t| t.hour().into()),
    part("minute", |t| t.minute().into()),
    part("second", |t| t.second().into()),
    Spec {
        name: "date_add",
        arities: &[&[Arg::Text, Arg::Int, Arg::Time]],
        returns: Arg::Time,
        body: Body::Arrays(date_add),
    },
    Spec {
        name: "date_diff",
        arities: &[&[Arg::Text, Arg::Time, Arg::Time]],
        returns: Arg::Int,
        body: Body::Arrays(date_diff),
    },
    Spec {
        name: "regexp_extract",
        arities: &[&[Arg::Text, Arg::Text], &[Arg::Text, Arg::Text, Arg::Int]],
        returns: Arg::Text,
        body: Body::Arrays(regexp_extract),
    },
    Spec {
        name: "date_parse",
        arities: &[&[Arg::Text, Arg::Text]],
        returns: Arg::Time,
        body: Body::Arrays(date_parse),
    },
    Spec {
        name: "date_format",
        arities: &[&[Arg::Time, Arg::Text]],
        returns: Arg::Text,
        body: Body::Arrays(date_format),
    },
    Spec {
        name: "format_datetime",
        arities: &[&[Arg::Time, Arg::Text]],
        returns: Arg::Text,
        body: Body::Arrays(format_datetime),
    },
    Spec {
        name: "replace",
        arities: &[&[Arg::Text, Arg::Text], &[Arg::Text, Arg::Text, Arg::Text]],
        returns: Arg::Text,
        body: Body::Arrays(replace),
    },
    Spec {
        name: "json_array_length",
        arities: &[&[Arg::Text]],
        returns: Arg::Int,
        body: Body::Arrays(json_array_length),
    },
];

/// A field of a timestamp (`hour(eventtime)`), as an integer.
const fn part(name: &'static str, field: fn(&DateTime<Utc>) -> i64) -> Spec {
    Spec {
        name,
        arities: &[&[Arg::Time]],
        returns: Arg::Int,
        body: Body::Part(field),
    }
}

#[derive(Debug)]
struct TrinoFunction {
    spec: &'static Spec,
    signature: Signature,
}

// A function is its name: the names are unique within `FUNCTIONS`.
impl PartialEq for TrinoFunction {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name
    }
}

impl Eq for TrinoFunction {}

impl std::hash::Hash for TrinoFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.spec.name.hash(state);
    }
}

impl ScalarUDFImpl for TrinoFunction {
    fn name(&self) -> &str {
        self.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match self
            .spec
            .arities
            .iter()
            .find(|a| a.len() == arg_types.len())
        {
            Some(args) => Ok(args.iter().map(|a| a.data_type()).collect()),
            None => {
                let counts: Vec<String> = self
                    .spec
                    .arities
                    .iter()
                    .map(|a| a.len().to_string())
                    .collect();
                plan_err!(
                    "{} takes {} arguments, not {}",
                    self.spec.name,
                    counts.join(" or "),
                    arg_types.len()
                )
            }
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.spec.returns.data_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        over_arrays(&args, |arrays| {
            match self.spec.body {
                Body::Arrays(body) => body(arrays),
                Body::Part(field) => time_part(arrays, field),
            }
            .map_err(|e| DataFusionError::Execution(format!("{}: {e}", self.spec.name)))
        })
    }
}

fn times(array: &ArrayRef) -> &TimestampMicrosecondArray {
    array.as_primitive::<TimestampMicrosecondType>()
}

fn texts(array: &ArrayRef) -> &StringArray {
    array.as_string::<i32>()
}

fn ints(array: &ArrayRef) -> &datafusion::arrow::array::PrimitiveArray<Int64Type> {
    array.as_primitive::<Int64Type>()
}

fn to_time(micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| DataFusionError::Execution(format!("timestamp {micros} out of range")))
}

fn time_array(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

/// `from_iso8601_timestamp('2017-06-01T10:00:00Z')`: ISO 8601 with a zone (or none: UTC), or a
/// date alone. Text that is not ISO 8601 is an error, as in Trino.
fn from_iso8601_timestamp(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = texts(&args[0])
        .iter()
        .map(|v| v.map(parse_iso8601).transpose())
        .collect::<Result<Vec<_>>>()?;
    Ok(time_array(out))
}

fn parse_iso8601(text: &str) -> Result<i64> {
    match crate::time::parse_user_time(text.trim()) {
        Ok(at) => Ok(at.timestamp_micros()),
        Err(_) => exec_err!("invalid ISO 8601 timestamp {text:?}"),
    }
}

/// `to_iso8601(eventtime)`: `2017-06-01T10:00:00.000Z`, milliseconds and `Z`, as Trino prints
/// a UTC timestamp.
fn to_iso8601(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = times(&args[0])
        .iter()
        .map(|v| {
            v.map(|m| Ok(to_time(m)?.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(StringArray::from(out)))
}

fn time_part(args: &[ArrayRef], field: fn(&DateTime<Utc>) -> i64) -> Result<ArrayRef> {
    let out = times(&args[0])
        .iter()
        .map(|v| v.map(|m| Ok(field(&to_time(m)?))).transpose())
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Int64Array::from(out)))
}

/// ISO numbering, as Trino: Monday 1 to Sunday 7.
fn day_of_week(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out = times(&args[0])
        .iter()
        .map(|v| {
            v.map(|m| Ok(i64::from(to_time(m)?.weekday().number_from_monday())))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Int64Array::from(out)))
}

/// A unit of `date_add` and `date_diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Fixed(i64),
    Months(i64),
}

fn unit(name: &str) -> Result<Unit> {
    const SECOND: i64 = 1_000_000;
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "millisecond" => Unit::Fixed(1_000),
        "second" => Unit::Fixed(SECOND),
        "minute" => Unit::Fixed(60 * SECOND),
        "hour" => Unit::Fixed(3_600 * SECOND),
        "day" => Unit::Fixed(86_400 * SECOND),
        "week" => Unit::Fixed(7 * 86_400 * SECOND),
        "month" => Unit::Months(1),
        "quarter" => Unit::Months(3),
        "year" => Unit::Months(12),
        other => return exec_err!("unknown unit {other:?}"),
    })
}

/// `date_add('day', -7, ts)`. Adding months keeps the day of the month, or the month's last day
/// when it has fewer (Trino: Jan 31 plus one month is Feb 28 or 29).
fn date_add(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (units, amounts, at) = (texts(&args[0]), ints(&args[1]), times(&args[2]));
    let mut out = Vec::with_capacity(at.len());
    for i in 0..at.len() {
        if units.is_null(i) || amounts.is_null(i) || at.is_null(i) {
            out.push(None);
            continue;
        }
        let n = amounts.value(i);
        let value = match unit(units.value(i))? {
            Unit::Fixed(step) => n.checked_mul(step).and_then(|d| at.value(i).checked_add(d)),
            Unit::Months(step) => {
                let t = to_time(at.value(i))?;
                let months = n.saturating_mul(step);
                // Past u32::MAX months is out of range, like any other overflow.
                let count = u32::try_from(months.unsigned_abs()).ok().map(Months::new);
                let moved = count.and_then(|count| {
                    if months >= 0 {
                        t.checked_add_months(count)
                    } else {
                        t.checked_sub_months(count)
                    }
                });
                moved.map(|t| t.timestamp_micros())
            }
        };
        out.push(Some(value.ok_or_else(|| {
            DataFusionError::Execution("result out of range".into())
        })?));
    }
    Ok(time_array(out))
}

/// `date_diff('day', t1, t2)`: whole units from t1 to t2, truncated toward zero (negative
/// when t2 is earlier). Months count only when the day and time of month are reached.
fn date_diff(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (units, from, to) = (texts(&args[0]), times(&args[1]), times(&args[2]));
    let mut out = Vec::with_capacity(from.len());
    for i in 0..from.len() {
        if units.is_null(i) || from.is_null(i) || to.is_null(i) {
            out.push(None);
            continue;
        }
        let (a, b) = (from.value(i), to.value(i));
        out.push(Some(match unit(units.value(i))? {
            Unit::Fixed(step) => (b - a) / step,
            Unit::Months(step) => whole_months(to_time(a)?, to_time(b)?) / step,
        }));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

fn whole_months(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    if b < a {
        return -whole_months(b, a);
    }
    let mut months = (i64::from(b.year()) - i64::from(a.year())) * 12 + i64::from(b.month())
        - i64::from(a.month());
    // Not yet a whole month if b's day and time of month come before a's.
    if months > 0
        && a.checked_add_months(Months::new(months as u32))
            .is_none_or(|reached| reached > b)
    {
        months -= 1;
    }
    months
}

/// `regexp_extract(s, pattern[, group])`: the first match (or its group), NULL when nothing
/// matches. The pattern is Java-style as in Trino; the `regex` crate reads the common subset.
fn regexp_extract(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (values, patterns) = (texts(&args[0]), texts(&args[1]));
    let groups = args.get(2).map(ints);
    let mut compiled = LastConverted::default();
    let mut out = Vec::with_capacity(values.len());
    for i in 0..values.len() {
        if values.is_null(i) || patterns.is_null(i) || groups.is_some_and(|g| g.is_null(i)) {
            out.push(None);
            continue;
        }
        let re = compiled.get(patterns.value(i), |pattern| {
            regex::Regex::new(pattern).map_err(|e| format!("invalid pattern {pattern:?}: {e}"))
        })?;
        let group = groups.map_or(0, |g| g.value(i));
        if group < 0 || group as usize >= re.captures_len() {
            return exec_err!("pattern has {} groups, not {group}", re.captures_len() - 1);
        }
        out.push(
            re.captures(values.value(i))
                .and_then(|c| c.get(group as usize))
                .map(|m| m.as_str().to_string()),
        );
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `date_parse('2017/06/01 10:00', '%Y/%m/%d %H:%i')`: text in a MySQL-style format. Text that
/// does not match the format is an error, as in Trino.
fn date_parse(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (values, formats) = (texts(&args[0]), texts(&args[1]));
    let mut converted = LastConverted::default();
    let mut out = Vec::with_capacity(values.len());
    for i in 0..values.len() {
        if values.is_null(i) || formats.is_null(i) {
            out.push(None);
            continue;
        }
        let format = converted.get(formats.value(i), formats::mysql_to_chrono)?;
        let value = values.value(i);
        let parsed = chrono::NaiveDateTime::parse_from_str(value, format)
            .or_else(|_| {
                NaiveDate::parse_from_str(value, format).map(|d| d.and_time(NaiveTime::MIN))
            })
            .map_err(|e| {
                DataFusionError::Execution(format!(
                    "{value:?} does not match format {:?}: {e}",
                    formats.value(i)
                ))
            })?;
        out.push(Some(parsed.and_utc().timestamp_micros()));
    }
    Ok(time_array(out))
}

/// Formats a timestamp with a format of the kind `convert` turns into chrono's.
fn format_with(
    args: &[ArrayRef],
    convert: fn(&str) -> std::result::Result<String, String>,
) -> Result<ArrayRef> {
    use std::fmt::Write;
    let (at, formats) = (times(&args[0]), texts(&args[1]));
    let mut converted = LastConverted::default();
    let mut out = Vec::with_capacity(at.len());
    for i in 0..at.len() {
        if at.is_null(i) || formats.is_null(i) {
            out.push(None);
            continue;
        }
        let format = converted.get(formats.value(i), convert)?;
        // Written, not `to_string()`: chrono reports a format it cannot apply as an error,
        // which `to_string()` would turn into a panic.
        let mut text = String::new();
        write!(text, "{}", to_time(at.value(i))?.format(format)).map_err(|_| {
            DataFusionError::Execution(format!("cannot format with {:?}", formats.value(i)))
        })?;
        out.push(Some(text));
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// `date_format(eventtime, '%Y-%m-%d')`, MySQL-style.
fn date_format(args: &[ArrayRef]) -> Result<ArrayRef> {
    format_with(args, formats::mysql_to_chrono)
}

/// `format_datetime(eventtime, 'yyyy-MM-dd HH:mm')`, Joda-style.
fn format_datetime(args: &[ArrayRef]) -> Result<ArrayRef> {
    format_with(args, formats::joda_to_chrono)
}

/// `replace(s, search[, replacement])`: without a replacement, every `search` is removed.
fn replace(args: &[ArrayRef]) -> Result<ArrayRef> {
    let (values, searches) = (texts(&args[0]), texts(&args[1]));
    let replacements = args.get(2).map(texts);
    let out: Vec<Option<String>> = (0..values.len())
        .map(|i| {
            if values.is_null(i)
                || searches.is_null(i)
                || replacements.is_some_and(|r| r.is_null(i))
            {
                return None;
            }
            let with = replacements.map_or("", |r| r.value(i));
            Some(values.value(i).replace(searches.value(i), with))
        })
        .collect();
    Ok(Arc::new(StringArray::from(out)))
}

/// A per-row argument's conversion (a compiled pattern, a translated format), kept while the
/// rows repeat the argument, as they do when it is a constant: converted once, not per row.
struct LastConverted<T>(Option<(String, T)>);

impl<T> Default for LastConverted<T> {
    fn default() -> Self {
        LastConverted(None)
    }
}

impl<T> LastConverted<T> {
    fn get(
        &mut self,
        key: &str,
        convert: impl FnOnce(&str) -> std::result::Result<T, String>,
    ) -> Result<&T> {
        let kept = match self.0.take() {
            Some(hit) if hit.0 == key => hit,
            _ => (
                key.to_string(),
                convert(key).map_err(DataFusionError::Execution)?,
            ),
        };
        Ok(&self.0.insert(kept).1)
    }
}

/// `json_array_length('[1,2]')`: the length of a JSON array, NULL for anything else.
fn json_array_length(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out: Vec<Option<i64>> = texts(&args[0])
        .iter()
        .map(|v| {
            let parsed: serde_json::Value = serde_json::from_str(v?).ok()?;
            parsed.as_array().map(|a| a.len() as i64)
        })
        .collect();
    Ok(Arc::new(Int64Array::from(out)))
}

mod count_if;
mod element_at;
mod formats;
pub(super) mod ipaddress;
#[cfg(test)]
mod tests;
