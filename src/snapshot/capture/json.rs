//! Building the AWS CLI's JSON from SDK values.
//!
//! The AWS CLI v2 prints an answer's members under the API's own names, leaves out members the
//! answer did not carry, prints timestamps as ISO 8601 (`2026-10-05T12:00:00+00:00`, with
//! microseconds when there are any) and enums as their wire strings. [`Obj`] follows those rules:
//! every setter takes an `Option` and skips `None`, so an absent member stays absent and an empty
//! list the service did send stays `[]`.

use aws_sdk_cloudtrail::primitives::DateTime;
use serde_json::{Map, Value};

/// A JSON object built member by member, skipping absent ones.
#[derive(Debug, Default)]
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub fn new() -> Self {
        Obj::default()
    }

    pub fn val(mut self, key: &str, v: Option<Value>) -> Self {
        if let Some(v) = v {
            self.0.insert(key.to_string(), v);
        }
        self
    }

    pub fn str(self, key: &str, v: Option<&str>) -> Self {
        self.val(key, v.map(|s| Value::String(s.to_string())))
    }

    /// An SDK enum, as the string on the wire.
    pub fn enm<E: AsRef<str>>(self, key: &str, v: Option<&E>) -> Self {
        self.str(key, v.map(AsRef::as_ref))
    }

    pub fn bool(self, key: &str, v: Option<bool>) -> Self {
        self.val(key, v.map(Value::Bool))
    }

    pub fn int(self, key: &str, v: Option<impl Into<i64>>) -> Self {
        self.val(key, v.map(|n| Value::from(n.into())))
    }

    pub fn num(self, key: &str, v: Option<f64>) -> Self {
        self.val(key, v.map(Value::from))
    }

    pub fn time(self, key: &str, v: Option<&DateTime>) -> Self {
        self.val(key, v.map(|t| Value::String(iso(t))))
    }

    /// A list of structures, each mapped by `f`; `Some(&[])` is printed as `[]`.
    pub fn list<T>(self, key: &str, v: Option<&[T]>, f: impl Fn(&T) -> Value) -> Self {
        self.val(
            key,
            v.map(|items| Value::Array(items.iter().map(f).collect())),
        )
    }

    /// A list of strings.
    pub fn strs(self, key: &str, v: Option<&[String]>) -> Self {
        self.list(key, v, |s| Value::String(s.clone()))
    }

    pub fn build(self) -> Value {
        Value::Object(self.0)
    }
}

/// A timestamp as the AWS CLI v2 prints it (Python's `isoformat()` of a UTC datetime).
pub(crate) fn iso(t: &DateTime) -> String {
    let micros = t.subsec_nanos() / 1000;
    let Some(utc) = chrono::DateTime::from_timestamp(t.secs(), micros * 1000) else {
        return t.secs().to_string();
    };
    if micros == 0 {
        utc.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        utc.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// An IAM policy document as the CLI prints it: the API sends it URL-encoded; the CLI decodes
/// it and parses the JSON. A document that does not decode stays the string it was.
pub(crate) fn policy_document(encoded: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|_| Value::String(decoded.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_and_absent_members_as_the_cli_prints_them() {
        assert_eq!(
            iso(&DateTime::from_secs(1_780_000_000)),
            "2026-05-28T20:26:40+00:00"
        );
        assert_eq!(
            iso(&DateTime::from_millis(1_780_000_000_123)),
            "2026-05-28T20:26:40.123000+00:00"
        );
        let empty: Vec<String> = Vec::new();
        let v = Obj::new()
            .str("A", None)
            .strs("B", Some(&empty))
            .bool("C", Some(false))
            .int("D", Some(7i32))
            .build();
        assert_eq!(v, json!({"B": [], "C": false, "D": 7}));
    }

    #[test]
    fn iam_documents_are_decoded_json() {
        let doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGet%2A%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aa+b%22%7D%5D%7D";
        assert_eq!(
            policy_document(doc),
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::a+b"}]})
        );
        assert_eq!(policy_document("not%20json"), json!("not json"));
    }
}
