//! The two SQL functions compiled Sigma rules call where plain SQL cannot say what Sigma means:
//!
//! - `json_match(doc, 'path', 'op', 'argument')`: true when any value at the dotted `path` of the
//!   JSON text `doc` satisfies `op` (see [`JsonOp`]). Arrays met on the way (or at the end) are
//!   searched element by element, keys match exactly or else case-insensitively, and numbers and
//!   booleans compare as their JSON text, so `requestParameters.containerDefinitions.command|contains`
//!   and `responseElements.ConsoleLogin: Success` mean what the rule's author meant. Never NULL.
//! - `cidr_match(address, '10.0.0.0/8')`: true when the text is an IPv4 or IPv6 address within
//!   the network; false for anything else (`AWS Internal`, a service name, NULL).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;
use serde_json::Value;

use super::trino_functions::ipaddress::{Network, address_bytes, prefix, within};

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(SigmaFunction {
            name: "json_match",
            arity: 4,
            signature: Signature::user_defined(Volatility::Immutable),
        }),
        ScalarUDF::new_from_impl(SigmaFunction {
            name: "cidr_match",
            arity: 2,
            signature: Signature::user_defined(Volatility::Immutable),
        }),
    ]
}

/// What `json_match` tests each value with; the argument's meaning depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonOp {
    /// Equal, ignoring case (argument: the text).
    Eq,
    EqCased,
    /// SQL `LIKE` pattern (escape `\`), ignoring case.
    Like,
    LikeCased,
    /// Regular expression (Rust syntax; flags inline, `(?i)`).
    Regex,
    /// Address within a network.
    Cidr,
    /// Numeric comparisons with the argument.
    Lt,
    Lte,
    Gt,
    Gte,
    /// The path holds a non-null value (argument ignored).
    Exists,
}

impl JsonOp {
    const ALL: [JsonOp; 11] = [
        JsonOp::Eq,
        JsonOp::EqCased,
        JsonOp::Like,
        JsonOp::LikeCased,
        JsonOp::Regex,
        JsonOp::Cidr,
        JsonOp::Lt,
        JsonOp::Lte,
        JsonOp::Gt,
        JsonOp::Gte,
        JsonOp::Exists,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JsonOp::Eq => "eq",
            JsonOp::EqCased => "eq_cased",
            JsonOp::Like => "like",
            JsonOp::LikeCased => "like_cased",
            JsonOp::Regex => "re",
            JsonOp::Cidr => "cidr",
            JsonOp::Lt => "lt",
            JsonOp::Lte => "lte",
            JsonOp::Gt => "gt",
            JsonOp::Gte => "gte",
            JsonOp::Exists => "exists",
        }
    }

    fn parse(s: &str) -> Option<JsonOp> {
        JsonOp::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One `json_match` test, prepared once per batch.
enum Test {
    Eq {
        text: String,
        cased: bool,
    },
    Like {
        pattern: Vec<LikeToken>,
        cased: bool,
    },
    Regex(Regex),
    Cidr(Network),
    Number(JsonOp, f64),
    Exists,
}

impl Test {
    fn new(op: JsonOp, argument: &str) -> std::result::Result<Test, String> {
        Ok(match op {
            JsonOp::Eq => Test::Eq {
                text: argument.to_lowercase(),
                cased: false,
            },
            JsonOp::EqCased => Test::Eq {
                text: argument.to_string(),
                cased: true,
            },
            JsonOp::Like => Test::Like {
                pattern: like_tokens(&argument.to_lowercase()),
                cased: false,
            },
            JsonOp::LikeCased => Test::Like {
                pattern: like_tokens(argument),
                cased: true,
            },
            JsonOp::Regex => Test::Regex(Regex::new(argument).map_err(|e| e.to_string())?),
            JsonOp::Cidr => {
                Test::Cidr(prefix(argument).ok_or(format!("{argument:?} is not a network"))?)
            }
            JsonOp::Lt | JsonOp::Lte | JsonOp::Gt | JsonOp::Gte => Test::Number(
                op,
                argument
                    .trim()
                    .parse()
                    .map_err(|_| format!("{argument:?} is not a number"))?,
            ),
            JsonOp::Exists => Test::Exists,
        })
    }

    fn accepts(&self, value: &str) -> bool {
        match self {
            Test::Eq { text, cased: true } => value == text,
            Test::Eq { text, cased: false } => value.to_lowercase() == *text,
            Test::Like {
                pattern,
                cased: true,
            } => like(pattern, &value.chars().collect::<Vec<_>>()),
            Test::Like {
                pattern,
                cased: false,
            } => like(pattern, &value.to_lowercase().chars().collect::<Vec<_>>()),
            Test::Regex(re) => re.is_match(value),
            Test::Cidr(network) => address_bytes(value).is_some_and(|a| within(network, &a)),
            Test::Number(op, bound) => value.trim().parse::<f64>().is_ok_and(|v| match op {
                JsonOp::Lt => v < *bound,
                JsonOp::Lte => v <= *bound,
                JsonOp::Gt => v > *bound,
                _ => v >= *bound,
            }),
            Test::Exists => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum LikeToken {
    Char(char),
    One,
    Run,
}

fn like_tokens(pattern: &str) -> Vec<LikeToken> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '\\' => LikeToken::Char(chars.next().unwrap_or('\\')),
            '%' => LikeToken::Run,
            '_' => LikeToken::One,
            c => LikeToken::Char(c),
        });
    }
    out
}

/// Wildcard matching with one backtrack point (the last `%`): linear in practice, never
/// exponential.
fn like(pattern: &[LikeToken], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(LikeToken::Run) => {
                star = Some((p, t));
                p += 1;
            }
            Some(LikeToken::One) => {
                p += 1;
                t += 1;
            }
            Some(LikeToken::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|t| *t == LikeToken::Run)
}

/// Every non-null value at `path` under `value`, arrays searched element by element.
fn values_at<'a>(value: &'a Value, path: &[&str], out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|i| values_at(i, path, out)),
        Value::Null => {}
        _ if path.is_empty() => out.push(value),
        Value::Object(map) => {
            let key = path[0];
            let child = map.get(key).or_else(|| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            });
            if let Some(child) = child {
                values_at(child, &path[1..], out);
            }
        }
        _ => {}
    }
}

fn as_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => s.as_str().into(),
        other => other.to_string().into(),
    }
}

/// Whether any value at `path` of the JSON text `doc` passes `test`.
fn doc_matches(doc: &str, path: &[&str], test: &Test) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(doc) else {
        return false;
    };
    let mut found = Vec::new();
    values_at(&value, path, &mut found);
    found.iter().any(|v| test.accepts(&as_text(v)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SigmaFunction {
    name: &'static str,
    arity: usize,
    signature: Signature,
}

fn literal<'a>(name: &str, args: &'a [ColumnarValue], at: usize) -> Result<&'a str> {
    match &args[at] {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
        ) => Ok(s),
        _ => exec_err!("{name}: argument {} must be a text literal", at + 1),
    }
}

impl ScalarUDFImpl for SigmaFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != self.arity {
            return plan_err!("{} takes {} arguments", self.name, self.arity);
        }
        Ok(vec![DataType::Utf8; self.arity])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (test, path) = if self.name == "json_match" {
            let op_name = literal(self.name, &args.args, 2)?;
            let Some(op) = JsonOp::parse(op_name) else {
                return exec_err!("json_match: unknown test {op_name:?}");
            };
            let test = match Test::new(op, literal(self.name, &args.args, 3)?) {
                Ok(t) => t,
                Err(e) => return exec_err!("json_match: {e}"),
            };
            let path: Vec<String> = literal(self.name, &args.args, 1)?
                .split('.')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            (test, path)
        } else {
            let network = literal(self.name, &args.args, 1)?;
            match prefix(network) {
                Some(n) => (Test::Cidr(n), Vec::new()),
                None => return exec_err!("cidr_match: {network:?} is not a network"),
            }
        };
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let input = args.args[0].to_array(args.number_rows)?;
        let input = cast(&input, &DataType::Utf8)?;
        let texts = input.as_string::<i32>();
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut out = BooleanBuilder::with_capacity(texts.len());
        for row in 0..texts.len() {
            let hit = !texts.is_null(row)
                && if self.name == "json_match" {
                    doc_matches(texts.value(row), &path, &test)
                } else {
                    test.accepts(texts.value(row))
                };
            out.append_value(hit);
        }
        let array: ArrayRef = Arc::new(out.finish());
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
        } else {
            ColumnarValue::Array(array)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(op: JsonOp, arg: &str, doc: &str, path: &str) -> bool {
        let path: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
        doc_matches(doc, &path, &Test::new(op, arg).unwrap())
    }

    #[test]
    fn like_matches_wildcards_and_escapes() {
        let m = |p: &str, t: &str| like(&like_tokens(p), &t.chars().collect::<Vec<_>>());
        assert!(m("%a%b", "xxaxxb"));
        assert!(m("a_c", "abc") && !m("a_c", "ac"));
        assert!(m(r"50\%", "50%") && !m(r"50\%", "500"));
        assert!(m("%", "") && !m("a", ""));
        assert!(!m("%a%b", "xxbxxa"));
    }

    #[test]
    fn any_element_of_any_array_on_the_path_counts() {
        let doc = r#"{"containerDefinitions":[{"command":["sh","-c","curl $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]},{"command":["true"]}]}"#;
        assert!(test(
            JsonOp::Like,
            "%$aws_container_credentials%",
            doc,
            "containerDefinitions.command"
        ));
        assert!(test(JsonOp::Eq, "SH", doc, "containerdefinitions.Command"));
        assert!(!test(
            JsonOp::EqCased,
            "SH",
            doc,
            "containerDefinitions.command"
        ));
        assert!(!test(
            JsonOp::Eq,
            "curl",
            doc,
            "containerDefinitions.command"
        ));
    }

    #[test]
    fn numbers_and_booleans_compare_as_text_and_numbers() {
        let doc = r#"{"publiclyAccessible":true,"port":22,"x":null}"#;
        assert!(test(JsonOp::Eq, "true", doc, "publiclyAccessible"));
        assert!(test(JsonOp::Eq, "22", doc, "port"));
        assert!(test(JsonOp::Lte, "22", doc, "port") && !test(JsonOp::Lt, "22", doc, "port"));
        assert!(test(JsonOp::Exists, "", doc, "port") && !test(JsonOp::Exists, "", doc, "x"));
        assert!(!test(JsonOp::Exists, "", "not json", "port"));
        assert!(test(
            JsonOp::Cidr,
            "10.0.0.0/8",
            r#"{"ip":["1.2.3.4","10.1.2.3"]}"#,
            "ip"
        ));
        assert!(test(JsonOp::Regex, "(?i)^ADMIN", r#"{"u":"admin-1"}"#, "u"));
    }
}
