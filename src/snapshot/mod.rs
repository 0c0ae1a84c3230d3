//! Configuration snapshots: raw AWS API answers, exactly as the AWS CLI prints them.
//!
//! A snapshot is evidence of configuration at one moment, kept raw so that nothing is lost in
//! translation and a reviewer can replay each call:
//!
//! ```json
//! {"format":"trailscope.snapshot/1","captured_at":"2026-10-05T12:00:00Z","account_id":"111122223333",
//!  "profile":{"required_retention_days":365},
//!  "calls":[{"service":"cloudtrail","operation":"DescribeTrails","region":"us-east-1","params":{},
//!            "response":{"trailList":[]}},
//!           {"service":"s3","operation":"GetBucketPolicy","params":{"Bucket":"logs"},
//!            "error":{"code":"NoSuchBucketPolicy","message":"The bucket policy does not exist"}}]}
//! ```
//!
//! Errors are facts too: `NoSuchBucketPolicy` says the bucket has no policy, `NoSuchBucket` says
//! the bucket is gone. [`facts`] turns the calls into the rows of the snapshot tables.

pub mod access;
pub mod capture;
pub mod facts;
pub mod policy;

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The only format version this build reads.
pub const FORMAT: &str = "trailscope.snapshot/1";

/// One snapshot file.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Where it was read from (named in evidence and errors).
    pub source: String,
    pub captured_at: Option<String>,
    pub account_id: String,
    /// Control parameters the snapshot's owner set (`required_retention_days`, ...).
    pub profile: Map<String, Value>,
    pub calls: Vec<Call>,
}

/// One API call and its answer or error.
#[derive(Debug, Clone, Deserialize)]
pub struct Call {
    pub service: String,
    pub operation: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub response: Option<Value>,
    #[serde(default)]
    pub error: Option<CallError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl Call {
    /// A request parameter as text (`Bucket`, `Name`, ...).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }

    pub fn is(&self, service: &str, operation: &str) -> bool {
        self.service.eq_ignore_ascii_case(service) && self.operation == operation
    }

    pub fn error_code(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.code.as_str())
    }
}

#[derive(Deserialize)]
struct RawSnapshot {
    format: String,
    #[serde(default)]
    captured_at: Option<String>,
    account_id: String,
    #[serde(default)]
    profile: Map<String, Value>,
    #[serde(default)]
    calls: Vec<Call>,
}

impl Snapshot {
    /// Parses snapshot JSON; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Snapshot> {
        let bad = |why: String| {
            Error::usage(format!(
                "snapshot {source}: {why} (expected a {FORMAT} document: \
                 {{\"format\", \"account_id\", \"profile\", \"calls\": [...]}})"
            ))
        };
        let raw: RawSnapshot = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if raw.format != FORMAT {
            return Err(bad(format!("format {:?} is not supported", raw.format)));
        }
        if !crate::archive::layout::is_account_id(&raw.account_id) {
            return Err(bad(format!(
                "account_id {:?} is not a 12-digit account id",
                raw.account_id
            )));
        }
        for (i, call) in raw.calls.iter().enumerate() {
            if call.response.is_some() == call.error.is_some() {
                return Err(bad(format!(
                    "call {i} ({} {}) needs exactly one of \"response\" or \"error\"",
                    call.service, call.operation
                )));
            }
        }
        Ok(Snapshot {
            source: source.to_string(),
            captured_at: raw.captured_at,
            account_id: raw.account_id,
            profile: raw.profile,
            calls: raw.calls,
        })
    }

    pub fn load(path: &Path) -> Result<Snapshot> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
        Snapshot::parse(&text, &path.display().to_string())
    }

    /// Loads several snapshots (one per account, or the same account at several moments).
    pub fn load_all(paths: &[impl AsRef<Path>]) -> Result<Vec<Snapshot>> {
        paths.iter().map(|p| Snapshot::load(p.as_ref())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_with_the_file_named() {
        let ok = r#"{"format":"trailscope.snapshot/1","account_id":"111122223333",
            "calls":[{"service":"s3","operation":"GetBucketPolicy","params":{"Bucket":"b"},
                      "error":{"code":"NoSuchBucketPolicy"}}]}"#;
        let s = Snapshot::parse(ok, "a.json").unwrap();
        assert_eq!(s.calls[0].error_code(), Some("NoSuchBucketPolicy"));
        assert_eq!(s.calls[0].param("Bucket"), Some("b"));

        let wrong_format = ok.replace("snapshot/1", "snapshot/9");
        let e = Snapshot::parse(&wrong_format, "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.json") && e.contains("not supported"), "{e}");
        let both = ok.replace(r#""params""#, r#""response":{},"params""#);
        assert!(Snapshot::parse(&both, "a.json").is_err());
        assert!(Snapshot::parse("{", "a.json").is_err());
    }
}
