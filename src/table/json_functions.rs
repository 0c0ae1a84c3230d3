//! Athena's (Presto's) JSON functions, so queries written for Athena's CloudTrail table run as
//! they are: `json_extract_scalar(requestparameters, '$.bucketName')`, `json_extract(...)`.
//!
//! The datafusion-functions-json operators (`->`, `->>`, `json_get_str`, ...) are registered too;
//! these two add the JSONPath spelling Athena users know.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use serde_json::Value;

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(JsonExtract::new(
        "json_extract_scalar",
        true,
    )));
    ctx.register_udf(ScalarUDF::from(JsonExtract::new("json_extract", false)));
    ctx.register_udf(to_json_udf());
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonExtract {
    name: &'static str,
    /// `json_extract_scalar`: the value as text, null for objects and arrays.
    scalar: bool,
    signature: Signature,
}

impl JsonExtract {
    fn new(name: &'static str, scalar: bool) -> Self {
        let text = [DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8];
        let signatures = text
            .iter()
            .flat_map(|a| {
                text.iter()
                    .map(move |b| TypeSignature::Exact(vec![a.clone(), b.clone()]))
            })
            .collect();
        JsonExtract {
            name,
            scalar,
            signature: Signature::one_of(signatures, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonExtract {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let path_is_constant = matches!(args.args[1], ColumnarValue::Scalar(_));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let docs = as_utf8(&arrays[0])?;
        let paths = as_utf8(&arrays[1])?;
        let docs = docs
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        let paths = paths
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        let constant = if path_is_constant && !paths.is_empty() && paths.is_valid(0) {
            Some(
                parse_path(paths.value(0))
                    .map_err(|e| DataFusionError::Plan(format!("{}: {e}", self.name)))?,
            )
        } else {
            None
        };
        let mut out = Vec::with_capacity(n);
        for i in 0..docs.len() {
            if docs.is_null(i) || paths.is_null(i) {
                out.push(None);
                continue;
            }
            let owned;
            let steps = match &constant {
                Some(steps) => steps,
                None => {
                    owned = parse_path(paths.value(i))
                        .map_err(|e| DataFusionError::Execution(format!("{}: {e}", self.name)))?;
                    &owned
                }
            };
            out.push(extract(docs.value(i), steps, self.scalar));
        }
        let array: ArrayRef = Arc::new(StringArray::from(out));
        Ok(
            if args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
            {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
            } else {
                ColumnarValue::Array(array)
            },
        )
    }
}

fn as_utf8(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(array, &DataType::Utf8)?)
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses the JSONPath subset Presto accepts: `$`, `.key`, `["key"]`, `['key']`, `[0]`.
fn parse_path(path: &str) -> std::result::Result<Vec<Step>, String> {
    let rest = path
        .trim()
        .strip_prefix('$')
        .ok_or_else(|| format!("JSON path {path:?} must start with '$'"))?;
    let mut steps = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                if key.is_empty() {
                    return Err(format!("empty key in JSON path {path:?}"));
                }
                steps.push(Step::Key(key));
            }
            '[' => {
                let mut inner = String::new();
                for (_, c) in chars.by_ref() {
                    let inside_quotes = inner.starts_with(['"', '\'']) && !closes_quote(&inner);
                    if c == ']' && !inside_quotes {
                        break;
                    }
                    inner.push(c);
                }
                let inner = inner.trim();
                if let Some(q) = inner.chars().next().filter(|q| *q == '"' || *q == '\'') {
                    let key = inner
                        .strip_prefix(q)
                        .and_then(|s| s.strip_suffix(q))
                        .ok_or_else(|| format!("unterminated quote in JSON path {path:?}"))?;
                    steps.push(Step::Key(key.to_string()));
                } else {
                    let index = inner
                        .parse()
                        .map_err(|_| format!("bad index [{inner}] in JSON path {path:?}"))?;
                    steps.push(Step::Index(index));
                }
            }
            c if c.is_whitespace() => {}
            other => return Err(format!("unexpected {other:?} in JSON path {path:?}")),
        }
    }
    Ok(steps)
}

fn closes_quote(inner: &str) -> bool {
    let q = inner.chars().next();
    inner.len() >= 2 && inner.chars().last() == q
}

fn extract(doc: &str, steps: &[Step], scalar: bool) -> Option<String> {
    let root: Value = serde_json::from_str(doc).ok()?;
    let mut value = &root;
    for step in steps {
        value = match step {
            Step::Key(k) => value.as_object()?.get(k)?,
            Step::Index(i) => value.as_array()?.get(*i)?,
        };
    }
    if scalar {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Object(_) | Value::Array(_) => None,
        }
    } else {
        Some(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_presto() {
        let doc = r#"{"bucketName":"b","tags":[{"k":"v"}],"n":3,"o":{"x":null},"dot.key":true}"#;
        let get = |p: &str, scalar| extract(doc, &parse_path(p).unwrap(), scalar);
        assert_eq!(get("$.bucketName", true).as_deref(), Some("b"));
        assert_eq!(get("$.bucketName", false).as_deref(), Some("\"b\""));
        assert_eq!(get("$.tags[0].k", true).as_deref(), Some("v"));
        assert_eq!(get("$.n", true).as_deref(), Some("3"));
        assert_eq!(get("$.o", true), None, "objects are not scalars");
        assert_eq!(get("$.o", false).as_deref(), Some(r#"{"x":null}"#));
        assert_eq!(get("$[\"dot.key\"]", true).as_deref(), Some("true"));
        assert_eq!(get("$.missing", true), None);
        assert!(parse_path("bucketName").is_err());
    }
}

/// `to_json(value)`: any value (structs, lists of structs, timestamps) as JSON text, so a query
/// can carry nested evidence in a text column, e.g. `to_json(array_agg(named_struct(...)))`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToJson {
    signature: Signature,
}

pub fn to_json_udf() -> ScalarUDF {
    ScalarUDF::from(ToJson {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

impl ScalarUDFImpl for ToJson {
    fn name(&self) -> &str {
        "to_json"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::datatypes::{Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        let array = args.args[0].to_array(args.number_rows)?;
        let schema = Arc::new(Schema::new(vec![Field::new(
            "v",
            array.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::clone(&array)])?;
        let mut buf = Vec::new();
        {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
            writer.write(&batch)?;
            writer.finish()?;
        }
        let text = String::from_utf8_lossy(&buf);
        let out: StringArray = text
            .lines()
            .take(array.len())
            .enumerate()
            .map(|(i, line)| {
                if array.is_null(i) {
                    return None;
                }
                serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v.get("v").map(Value::to_string))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
