//! Answers of dialect queries (`tests/dialect/`), run unchanged, checked against answers
//! computed here from the raw log files alone: each file gunzipped and read with serde_json,
//! its partition values taken from the path, no trailscope code involved. Rows are compared
//! as sets of `a|b|c` lines (NULL for a missing value), so ties in ORDER BY do not matter.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use trailscope::archive::Scope;

use crate::util::{grycap, keys_under, query, rows};

/// One record as the raw files hold it.
struct Rec {
    account: String,
    region: String,
    /// The delivery folder, `yyyy/MM/dd`.
    folder: String,
    raw: String,
    v: Value,
}

fn records() -> &'static [Rec] {
    static RECORDS: OnceLock<Vec<Rec>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Document {
            #[serde(rename = "Records")]
            records: Vec<Box<RawValue>>,
        }
        let root = grycap();
        let mut out = Vec::new();
        for key in keys_under(&root) {
            if !key.ends_with(".json.gz") || !key.contains("/CloudTrail/") {
                continue;
            }
            let parts: Vec<&str> = key.split('/').collect();
            let n = parts.len();
            let at = parts.iter().position(|p| *p == "CloudTrail").unwrap();
            let mut text = String::new();
            let bytes = std::fs::read(root.join(&key)).unwrap();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .unwrap();
            let document: Document = serde_json::from_str(&text).unwrap();
            for raw in document.records {
                out.push(Rec {
                    account: parts[at - 1].to_string(),
                    region: parts[at + 1].to_string(),
                    folder: parts[n - 4..n - 1].join("/"),
                    v: serde_json::from_str(raw.get()).unwrap(),
                    raw: raw.get().to_string(),
                });
            }
        }
        assert_eq!(out.len(), 17598);
        out
    })
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// A value as a row cell: a string as itself, other JSON as its text, NULL when missing.
fn cell(v: &Value, path: &str) -> String {
    match get(v, path) {
        None => "NULL".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn is(v: &Value, path: &str, value: &str) -> bool {
    get(v, path).and_then(Value::as_str) == Some(value)
}

fn time(r: &Rec) -> DateTime<Utc> {
    cell(&r.v, "eventTime").parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// `key|count` lines of the records grouped by `key`.
fn counts<'a>(recs: impl Iterator<Item = &'a Rec>, key: impl Fn(&Rec) -> String) -> Vec<String> {
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for r in recs {
        *groups.entry(key(r)).or_default() += 1;
    }
    groups
        .into_iter()
        .map(|(k, n)| format!("{k}|{n}"))
        .collect()
}

fn lines<'a>(
    recs: impl Iterator<Item = &'a Rec>,
    row: impl Fn(&Rec) -> Vec<String>,
) -> Vec<String> {
    recs.map(|r| row(r).join("|")).collect()
}

/// A JSON object's value under `key`, as a Lake map holds it.
fn map_value(v: &Value, path: &str, key: &str) -> Option<String> {
    let object = get(v, path)?;
    let object = match object {
        // Some fields hold their object as a JSON string.
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        other => other.clone(),
    };
    match object.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn resources(v: &Value) -> Vec<&Value> {
    get(v, "resources")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// `readOnly` is a JSON boolean, or in older and relayed records the string.
fn readonly_is(v: &Value, value: bool) -> bool {
    match get(v, "readOnly") {
        Some(Value::Bool(b)) => *b == value,
        Some(Value::String(s)) => *s == value.to_string(),
        _ => false,
    }
}

fn ipv4(text: &str) -> Option<u32> {
    text.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

type Expected = fn(&[Rec]) -> Vec<String>;

/// Each query file, and its answer from the raw records.
const CHECKS: &[(&str, Expected)] = &[
    ("002-ymd-console-logins-one-day.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                r.region == "us-east-1"
                    && r.folder == "2017/06/01"
                    && is(&r.v, "eventName", "ConsoleLogin")
            }),
            |r| {
                let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_str(&r.raw).unwrap();
                vec![
                    cell(&r.v, "userIdentity.userName"),
                    cell(&r.v, "sourceIPAddress"),
                    cell(&r.v, "eventTime"),
                    fields
                        .get("additionalEventData")
                        .map_or("NULL".into(), |raw| raw.get().to_string()),
                ]
            },
        )
    }),
    ("003-org-partitions-errors-by-code.sql", |recs| {
        counts(
            recs.iter().filter(|r| {
                r.account == "974349055189"
                    && r.region == "us-east-1"
                    && r.folder.starts_with("2014/09/")
                    && get(&r.v, "errorCode").is_some()
            }),
            |r| cell(&r.v, "errorCode"),
        )
    }),
    ("009-bootstrap-events-by-region.sql", |recs| {
        counts(
            recs.iter().filter(|r| {
                r.folder.as_str() >= "2014/01/01"
                    && r.folder.as_str() <= "2018/12/31"
                    && r.account == "974349055189"
                    && ["us-east-1", "sa-east-1", "eu-west-1"].contains(&r.region.as_str())
            }),
            |r| r.region.clone(),
        )
    }),
    ("018-org-trail-account-region-ymd-errors.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                r.account == "974349055189"
                    && r.region == "us-east-1"
                    && r.folder == "2017/06/01"
                    && get(&r.v, "errorCode").is_some()
            }),
            |r| {
                [
                    "eventTime",
                    "eventID",
                    "eventName",
                    "errorCode",
                    "errorMessage",
                ]
                .iter()
                .map(|p| cell(&r.v, p))
                .collect()
            },
        )
    }),
    ("019-org-trail-gist-region-account-partitions.sql", |recs| {
        let changes = [
            "AuthorizeSecurityGroupIngress",
            "RevokeSecurityGroupIngress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
        ];
        counts(
            recs.iter().filter(|r| {
                r.account == "974349055189"
                    && ["us-east-1", "sa-east-1"].contains(&r.region.as_str())
                    && (r.folder.starts_with("2017/") || r.folder.starts_with("2018/"))
                    && changes.contains(&cell(&r.v, "eventName").as_str())
            }),
            |r| format!("{}|{}", r.region, cell(&r.v, "eventName")),
        )
    }),
    ("021-lake-principals-createbucket-day.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                get(&r.v, "userIdentity.principalId").is_some()
                    && time(r) > at("2017-06-01T00:00:00Z")
                    && time(r) < at("2017-06-02T00:00:00Z")
                    && is(&r.v, "eventName", "CreateBucket")
            }),
            |r| {
                vec![
                    cell(&r.v, "userIdentity.principalId"),
                    cell(&r.v, "eventName"),
                ]
            },
        )
    }),
    ("022-lake-apis-called-by-user.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                is(&r.v, "userIdentity.userName", "gmolto")
                    && time(r) > at("2017-06-01T00:00:00Z")
                    && time(r) < at("2017-06-02T00:00:00Z")
            }),
            |r| {
                ["eventID", "eventName", "eventSource", "eventTime"]
                    .iter()
                    .map(|p| cell(&r.v, p))
                    .collect()
            },
        )
    }),
    ("023-lake-api-count-by-source.sql", |recs| {
        counts(
            recs.iter().filter(|r| time(r) > at("2017-01-01T00:00:00Z")),
            |r| format!("{}|{}", cell(&r.v, "eventSource"), cell(&r.v, "eventName")),
        )
    }),
    ("024-lake-console-logins-in-regions.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                ["us-east-1", "sa-east-1"].contains(&cell(&r.v, "awsRegion").as_str())
                    && is(&r.v, "eventName", "ConsoleLogin")
            }),
            |r| {
                ["eventTime", "userIdentity.arn", "awsRegion"]
                    .iter()
                    .map(|p| cell(&r.v, p))
                    .collect()
            },
        )
    }),
    ("025-lake-bucket-from-request-map.sql", |recs| {
        counts(
            recs.iter().filter(|r| {
                is(&r.v, "eventSource", "s3.amazonaws.com")
                    && time(r) > at("2017-06-01T00:00:00Z")
                    && time(r) < at("2017-07-01T00:00:00Z")
                    && map_value(&r.v, "requestParameters", "bucketName").as_deref()
                        == Some("alucloud")
            }),
            |r| cell(&r.v, "eventName"),
        )
    }),
    ("029-lake-weekday-histogram.sql", |recs| {
        counts(
            recs.iter().filter(|r| {
                time(r) > at("2018-01-01T00:00:00Z") && time(r) < at("2019-01-01T00:00:00Z")
            }),
            |r| time(r).weekday().number_from_monday().to_string(),
        )
    }),
    ("036-lake-logs-by-region.sql", |recs| {
        counts(
            recs.iter().filter(|r| {
                time(r) > at("2014-01-01T00:00:00Z") && time(r) < at("2019-01-01T00:00:00Z")
            }),
            |r| format!("{}|{}", cell(&r.v, "awsRegion"), cell(&r.v, "eventSource")),
        )
    }),
    ("041-lake-eventjson-like-bucket.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                r.raw.contains("cursocloudaws-trail") && time(r) > at("2014-01-01T00:00:00Z")
            }),
            |r| {
                [
                    "eventTime",
                    "eventName",
                    "userIdentity.arn",
                    "sourceIPAddress",
                ]
                .iter()
                .map(|p| cell(&r.v, p))
                .collect()
            },
        )
    }),
    ("043-lake-failed-console-logins.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                is(&r.v, "eventName", "ConsoleLogin")
                    && map_value(&r.v, "responseElements", "ConsoleLogin").as_deref()
                        == Some("Failure")
                    && time(r) > at("2014-09-01T00:00:00Z")
            }),
            |r| {
                let mut row: Vec<String> = [
                    "eventTime",
                    "userIdentity.userName",
                    "sourceIPAddress",
                    "errorMessage",
                ]
                .iter()
                .map(|p| cell(&r.v, p))
                .collect();
                row.push(
                    map_value(&r.v, "additionalEventData", "LoginTo").unwrap_or("NULL".into()),
                );
                row
            },
        )
    }),
    ("047-lake-map-keys-policy-document.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                is(&r.v, "eventSource", "iam.amazonaws.com")
                    && get(&r.v, "requestParameters")
                        .and_then(Value::as_object)
                        .is_some_and(|o| o.contains_key("policyDocument"))
            }),
            |r| {
                let mut row: Vec<String> = ["eventTime", "eventName", "userIdentity.userName"]
                    .iter()
                    .map(|p| cell(&r.v, p))
                    .collect();
                for key in ["groupName", "policyName"] {
                    row.push(map_value(&r.v, "requestParameters", key).unwrap_or("NULL".into()));
                }
                row
            },
        )
    }),
    ("054-athena-readonly-string-false.sql", |recs| {
        lines(recs.iter().filter(|r| readonly_is(&r.v, false)), |r| {
            [
                "eventTime",
                "eventSource",
                "eventName",
                "userIdentity.arn",
                "userIdentity.invokedBy",
            ]
            .iter()
            .map(|p| cell(&r.v, p))
            .collect()
        })
    }),
    ("106-athena-readonly-string-true-by-service.sql", |recs| {
        counts(
            recs.iter().filter(|r| {
                readonly_is(&r.v, true) && cell(&r.v, "eventTime").starts_with("2017-06-01T")
            }),
            |r| cell(&r.v, "eventSource"),
        )
    }),
    ("119-timestamp-readonly-string-kms.sql", |recs| {
        lines(
            recs.iter().filter(|r| {
                r.folder == "2017/06/01"
                    && is(&r.v, "eventSource", "kms.amazonaws.com")
                    && readonly_is(&r.v, false)
            }),
            |r| {
                let mut row: Vec<String> = [
                    "eventTime",
                    "eventName",
                    "userIdentity.arn",
                    "userIdentity.invokedBy",
                ]
                .iter()
                .map(|p| cell(&r.v, p))
                .collect();
                row.push("false".into());
                row
            },
        )
    }),
    ("062-unnest-resources-bucket-counts.sql", |recs| {
        let mut arns: BTreeMap<String, usize> = BTreeMap::new();
        for r in recs
            .iter()
            .filter(|r| time(r) >= at("2017-06-01T00:00:00Z"))
        {
            for res in resources(&r.v) {
                if is(res, "type", "AWS::S3::Bucket") {
                    *arns.entry(cell(res, "ARN")).or_default() += 1;
                }
            }
        }
        arns.into_iter().map(|(a, n)| format!("{a}|{n}")).collect()
    }),
    ("065-unnest-with-ordinality-position.sql", |recs| {
        let mut out = Vec::new();
        for r in recs.iter().filter(|r| is(&r.v, "eventName", "HeadBucket")) {
            for (i, res) in resources(&r.v).into_iter().enumerate() {
                out.push(format!(
                    "{}|HeadBucket|{}|{}|{}",
                    cell(&r.v, "eventTime"),
                    i + 1,
                    cell(res, "type"),
                    cell(res, "ARN")
                ));
            }
        }
        out
    }),
    ("066-unnest-left-join-keep-empty.sql", |recs| {
        let mut groups: BTreeMap<String, usize> = BTreeMap::new();
        for r in recs
            .iter()
            .filter(|r| is(&r.v, "eventSource", "kms.amazonaws.com"))
        {
            let name = cell(&r.v, "eventName");
            let arns: Vec<String> = resources(&r.v).iter().map(|res| cell(res, "ARN")).collect();
            if arns.is_empty() {
                *groups.entry(format!("{name}|NULL")).or_default() += 1;
            }
            for arn in arns {
                *groups.entry(format!("{name}|{arn}")).or_default() += 1;
            }
        }
        groups
            .into_iter()
            .map(|(k, n)| format!("{k}|{n}"))
            .collect()
    }),
    ("071-count-if-error-ratio-per-user.sql", |recs| {
        let mut users: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        for r in recs
            .iter()
            .filter(|r| is(&r.v, "userIdentity.type", "IAMUser"))
        {
            let e = users.entry(cell(&r.v, "userIdentity.arn")).or_default();
            e.0 += 1;
            e.1 += usize::from(get(&r.v, "errorCode").is_some());
            e.2 += usize::from(is(&r.v, "errorCode", "AccessDenied"));
        }
        users
            .into_iter()
            .filter(|(_, (_, failed, _))| *failed > 0)
            .map(|(arn, (calls, failed, denied))| {
                let pct = (100.0 * failed as f64 / calls as f64 * 10.0).round() / 10.0;
                format!("{arn}|{calls}|{failed}|{denied}|{pct:?}")
            })
            .collect()
    }),
    ("073-element-at-array-last-arn-part.sql", |recs| {
        counts(
            recs.iter()
                .filter(|r| is(&r.v, "userIdentity.type", "AssumedRole")),
            |r| match get(&r.v, "userIdentity.arn").and_then(Value::as_str) {
                None => "NULL|NULL".into(),
                Some(arn) => {
                    let parts: Vec<&str> = arn.split('/').collect();
                    let second = parts.get(1).map_or("NULL", |s| s);
                    format!("{}|{second}", parts[parts.len() - 1])
                }
            },
        )
    }),
    ("075-ipaddress-contains-cidr-university.sql", |recs| {
        let (net, mask) = (
            u32::from(std::net::Ipv4Addr::new(158, 42, 0, 0)),
            0xffff_0000,
        );
        counts(
            recs.iter().filter(|r| {
                let ip = cell(&r.v, "sourceIPAddress");
                ip.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                    && ipv4(&ip).is_some_and(|a| a & mask == net)
            }),
            |r| {
                format!(
                    "{}|{}",
                    cell(&r.v, "userIdentity.userName"),
                    cell(&r.v, "sourceIPAddress")
                )
            },
        )
    }),
    ("105-cardinality-resources-histogram.sql", |recs| {
        counts(recs.iter(), |r| match get(&r.v, "resources") {
            None => "NULL".into(),
            Some(v) => v.as_array().map_or(0, Vec::len).to_string(),
        })
    }),
];

#[tokio::test]
async fn dialect_answers_match_the_raw_files() {
    assert!(CHECKS.len() >= 20);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dialect");
    let mut wrong = Vec::new();
    for (file, expected) in CHECKS {
        let sql = std::fs::read_to_string(dir.join(file)).unwrap();
        let (batches, _) = query(&grycap(), Scope::default(), &sql).await;
        let mut got = rows(&batches);
        let mut want = expected(records());
        if want.is_empty() {
            wrong.push(format!(
                "{file}: the raw files give no rows: choose another query"
            ));
            continue;
        }
        got.sort();
        want.sort();
        if got != want {
            let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(3).collect();
            let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(3).collect();
            wrong.push(format!(
                "{file}: {} rows, {} expected; missing {missing:?}, unexpected {extra:?}",
                got.len(),
                want.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
