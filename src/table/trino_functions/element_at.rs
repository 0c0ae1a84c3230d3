//! Trino's `element_at`, over what CloudTrail Lake users apply it to:
//! - `element_at(resources, 1)`: the array's element at a 1-based index, counted from the end
//!   when negative; NULL past either end; index 0 is an error, as in Trino;
//! - `element_at(requestparameters, 'bucketName')`: Lake holds `requestParameters`,
//!   `responseElements` and `additionalEventData` as maps of text, we hold them as JSON text.
//!   The value under the key, as the map would hold it: a JSON string as its text, anything
//!   else (a number, an object) as its JSON; NULL when the key is missing or the text is not a
//!   JSON object.
//!
//! It replaces DataFusion's `element_at` (an alias of `map_extract`), which takes only maps.
//! `map_keys` likewise takes our JSON text as Lake's maps: the object's keys (sorted; a map's
//! keys have no order), NULL for text that is not a JSON object.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringBuilder};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::value::RawValue;

use super::over_arrays;

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(ElementAt {
            signature: Signature::user_defined(Volatility::Immutable),
        }),
        ScalarUDF::new_from_impl(MapKeys {
            signature: Signature::user_defined(Volatility::Immutable),
        }),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ElementAt {
    signature: Signature,
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        "element_at"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [list @ DataType::List(_), _] => Ok(vec![list.clone(), DataType::Int64]),
            [
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null,
                _,
            ] => Ok(vec![DataType::Utf8, DataType::Utf8]),
            [other, _] => plan_err!(
                "element_at takes an array and an index, or JSON text and a key; not {other}"
            ),
            _ => plan_err!("element_at takes 2 arguments, not {}", arg_types.len()),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::List(item) => Ok(item.data_type().clone()),
            _ => Ok(DataType::Utf8),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        over_arrays(&args, |arrays| match arrays[0].data_type() {
            DataType::List(_) => array_element(&arrays[0], &arrays[1]),
            _ => json_value(&arrays[0], &arrays[1]),
        })
    }
}

fn array_element(lists: &ArrayRef, indices: &ArrayRef) -> Result<ArrayRef> {
    let lists = lists.as_list::<i32>();
    let indices = cast(indices, &DataType::Int64)?;
    let indices = indices.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    let offsets = lists.value_offsets();
    let mut picks = Vec::with_capacity(lists.len());
    for row in 0..lists.len() {
        if lists.is_null(row) || indices.is_null(row) {
            picks.push(None);
            continue;
        }
        let (start, end) = (i64::from(offsets[row]), i64::from(offsets[row + 1]));
        let len = end - start;
        let pick = match indices.value(row) {
            0 => return exec_err!("element_at: SQL array indices start at 1"),
            i if i > 0 && i <= len => Some(start + i - 1),
            i if i < 0 && -i <= len => Some(end + i),
            _ => None,
        };
        picks.push(pick);
    }
    Ok(take(lists.values(), &Int64Array::from(picks), None)?)
}

fn json_value(texts: &ArrayRef, keys: &ArrayRef) -> Result<ArrayRef> {
    let (texts, keys) = (cast(texts, &DataType::Utf8)?, cast(keys, &DataType::Utf8)?);
    let (texts, keys) = (texts.as_string::<i32>(), keys.as_string::<i32>());
    let mut out = StringBuilder::with_capacity(texts.len(), 0);
    for row in 0..texts.len() {
        if texts.is_null(row) || keys.is_null(row) {
            out.append_null();
            continue;
        }
        match lookup(texts.value(row), keys.value(row)) {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// The map value under `key` of the JSON object `text`.
fn lookup<'a>(text: &'a str, key: &str) -> Option<Cow<'a, str>> {
    let object: HashMap<Cow<'a, str>, &'a RawValue> = serde_json::from_str(text).ok()?;
    let raw = object.get(key)?.get();
    match raw.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<Cow<'a, str>>(raw).ok(),
        _ if raw == "null" => None,
        _ => Some(Cow::Borrowed(raw)),
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MapKeys {
    signature: Signature,
}

impl ScalarUDFImpl for MapKeys {
    fn name(&self) -> &str {
        "map_keys"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [map @ DataType::Map(..)] => Ok(vec![map.clone()]),
            [_] => Ok(vec![DataType::Utf8]),
            _ => plan_err!("map_keys takes 1 argument, not {}", arg_types.len()),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(fields) if !fields.is_empty() => {
                    Ok(DataType::new_list(fields[0].data_type().clone(), true))
                }
                other => plan_err!("map_keys: a map's entries are not {other}"),
            },
            _ => Ok(DataType::new_list(DataType::Utf8, true)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if matches!(args.args[0].data_type(), DataType::Map(..)) {
            return datafusion::functions_nested::map_keys::map_keys_udf().invoke_with_args(args);
        }
        over_arrays(&args, |arrays| Ok(object_keys(&arrays[0])))
    }
}

/// The keys of each JSON object text (NULL for text that is not one).
fn object_keys(texts: &ArrayRef) -> ArrayRef {
    let texts = texts.as_string::<i32>();
    let mut out = datafusion::arrow::array::ListBuilder::new(StringBuilder::new());
    for text in texts.iter() {
        let keys = text.and_then(|t| {
            serde_json::from_str::<std::collections::BTreeMap<Cow<'_, str>, &RawValue>>(t).ok()
        });
        match keys {
            Some(keys) => {
                for key in keys.keys() {
                    out.values().append_value(key);
                }
                out.append(true);
            }
            None => out.append(false),
        }
    }
    Arc::new(out.finish())
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn map_values_are_text_or_json() {
        let doc = r#"{"bucketName":"logs","count":3,"tags":{"a":"b"},"none":null,"esc":"a\"b"}"#;
        assert_eq!(lookup(doc, "bucketName").as_deref(), Some("logs"));
        assert_eq!(lookup(doc, "count").as_deref(), Some("3"));
        assert_eq!(lookup(doc, "tags").as_deref(), Some(r#"{"a":"b"}"#));
        assert_eq!(lookup(doc, "esc").as_deref(), Some("a\"b"));
        assert_eq!(lookup(doc, "none"), None);
        assert_eq!(lookup(doc, "missing"), None);
        assert_eq!(lookup("[1,2]", "0"), None);
    }
}
