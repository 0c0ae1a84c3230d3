//! `trailscope report --format ocsf`: every line is an OCSF 1.8.0 Compliance Finding (class_uid
//! 2003) that satisfies the schema as `tests/fixtures/ocsf/compliance_finding-1.8.0-required.json`
//! states it (derived from github.com/ocsf/ocsf-schema by `scripts/ocsf_required.py`): every
//! required attribute present with its type, recursively; every attribute written known to the
//! schema, of its type, not deprecated, with enum ids the schema lists and captions that match
//! them; objects' `at_least_one`/`just_one` constraints met.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::DateTime;
use serde_json::{Map, Value, json};

const FIXTURE: &str = include_str!("fixtures/ocsf/compliance_finding-1.8.0-required.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("the OCSF fixture is JSON")
}

/// `trailscope report` on the bundled archive and snapshot, as in the README's tour.
fn report(format: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.out");
    let run = crate::util::trailscope(&[
        "report",
        "-q",
        "-a",
        "testdata/archive",
        "-s",
        "testdata/snapshot-566424620868.json",
        "--from",
        "2026-09-25",
        "--to",
        "2026-10-05",
        "--format",
        format,
        "-o",
        out.to_str().unwrap(),
    ]);
    let code = run.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "exit {code}: {}",
        crate::util::stderr(&run)
    );
    std::fs::read_to_string(&out).unwrap()
}

/// The first `--format ocsf` run, shared by the tests (a report takes a while in a debug build).
fn ocsf_output() -> &'static str {
    static OUTPUT: OnceLock<String> = OnceLock::new();
    OUTPUT.get_or_init(|| report("ocsf"))
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

// ---- the validator -------------------------------------------------------------------------

/// What is wrong with `event` by the fixture's schema; empty when nothing is.
fn validate(fx: &Value, event: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    // The required attributes, recursively (paths through arrays check every element).
    for entry in fx["required"].as_array().unwrap() {
        let path = entry["path"].as_str().unwrap();
        let mut values = vec![event];
        for part in path.split('.') {
            let mut next = Vec::new();
            for v in values {
                let items: Vec<&Value> = match v {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for item in items {
                    match item.get(part) {
                        Some(x) if !x.is_null() => next.push(x),
                        _ => errors.push(format!("{path}: required, missing")),
                    }
                }
            }
            values = next;
        }
        for v in values {
            check_value(fx, entry, v, path, &mut errors);
        }
    }
    // Every attribute present, against the catalogs.
    let class = &fx["event"];
    match event.as_object() {
        Some(object) => check_object(fx, class, object, "", &mut errors),
        None => errors.push("the event is not a JSON object".into()),
    }
    errors
}

fn check_object(
    fx: &Value,
    catalog: &Value,
    object: &Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<String>,
) {
    let attributes = catalog["attributes"].as_object().unwrap();
    for (name, spec) in attributes {
        if spec["requirement"] == "required" && object.get(name).is_none_or(Value::is_null) {
            errors.push(format!("{prefix}{name}: required, missing"));
        }
    }
    for (rule, names) in catalog["constraints"].as_object().into_iter().flatten() {
        let present = names
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| {
                object
                    .get(n.as_str().unwrap())
                    .is_some_and(|v| !v.is_null())
            })
            .count();
        let ok = match rule.as_str() {
            "at_least_one" => present >= 1,
            "just_one" => present == 1,
            _ => true,
        };
        if !ok {
            errors.push(format!("{prefix}: constraint {rule} {names} not met"));
        }
    }
    for (name, value) in object {
        let path = format!("{prefix}{name}");
        let Some(spec) = attributes.get(name) else {
            errors.push(format!("{path}: not an attribute here in the schema"));
            continue;
        };
        if spec.get("deprecated").is_some() {
            errors.push(format!("{path}: deprecated since {}", spec["deprecated"]));
        }
        check_value(fx, spec, value, &path, errors);
        // An enum id's sibling (`severity` for `severity_id`, ...) is the id's caption, except
        // for 99 "Other", whose caption the source defines.
        if let (Some(enum_), Some(sibling), Some(id)) = (
            spec["enum"].as_object(),
            spec["sibling"].as_str(),
            value.as_i64(),
        ) {
            let caption = enum_.get(&id.to_string()).and_then(Value::as_str);
            if let Some(text) = object.get(sibling)
                && id != 99
                && caption.is_some_and(|c| text != c)
            {
                errors.push(format!("{prefix}{sibling}: {text} is not {caption:?}"));
            }
        }
    }
}

/// `value` against one attribute's spec (`type`, `is_array`, `enum`, `object`).
fn check_value(fx: &Value, spec: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if spec["is_array"] == true {
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_one(fx, spec, item, &format!("{path}[{i}]"), errors);
                }
            }
            None => errors.push(format!("{path}: not an array")),
        }
    } else {
        check_one(fx, spec, value, path, errors);
    }
}

fn check_one(fx: &Value, spec: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let kind = spec["type"].as_str().unwrap();
    let ok = match kind {
        "string" => value.is_string(),
        "integer" | "long" => value.is_i64(),
        "timestamp" => value.as_i64().is_some_and(|t| t >= 0),
        "float" => value.is_number(),
        "boolean" => value.is_boolean(),
        "json" => true,
        "object" => value.is_object(),
        other => {
            errors.push(format!("{path}: the fixture has an unknown type {other}"));
            return;
        }
    };
    if !ok {
        errors.push(format!("{path}: {value} is not of type {kind}"));
        return;
    }
    if let Some(enum_) = spec["enum"].as_object()
        && !value
            .as_i64()
            .is_some_and(|id| enum_.contains_key(&id.to_string()))
    {
        errors.push(format!("{path}: {value} is not in the schema's enum"));
    }
    if kind == "object" {
        let name = spec["object"].as_str().unwrap();
        if name == "object" {
            return; // OCSF's free-form object (e.g. `unmapped`)
        }
        match fx["objects"].get(name) {
            Some(catalog) => check_object(
                fx,
                catalog,
                value.as_object().unwrap(),
                &format!("{path}."),
                errors,
            ),
            None => errors.push(format!(
                "{path}: no catalog for object {name} in the fixture"
            )),
        }
    }
}

// ---- the tests -----------------------------------------------------------------------------

#[test]
fn the_fixture_is_compliance_finding_1_8_0() {
    let fx = fixture();
    assert_eq!(fx["schema"]["version"], "1.8.0");
    assert_eq!(fx["schema"]["repo"], "ocsf/ocsf-schema");
    assert_eq!(fx["schema"]["commit"].as_str().unwrap().len(), 40);
    assert_eq!(fx["class"]["uid"], 2003);
    assert_eq!(fx["class"]["category_uid"], 2);
    let required: BTreeSet<&str> = fx["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for path in [
        "activity_id",
        "category_uid",
        "class_uid",
        "type_uid",
        "severity_id",
        "time",
        "metadata.version",
        "metadata.product",
        "finding_info.uid",
        "compliance",
        "cloud.provider",
    ] {
        assert!(required.contains(path), "{path} not in {required:?}");
    }
}

#[test]
fn ocsf_findings_follow_the_schema_and_the_report() {
    let fx = fixture();
    let ocsf = ocsf_output();
    let objects = lines(ocsf);
    let json: Value = serde_json::from_str(&report("json")).unwrap();

    // One object per finding, in the report's order.
    let findings: Vec<(&Value, &Value)> = json["controls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |f| (c, f))
        })
        .collect();
    assert_eq!(objects.len(), findings.len());
    assert!(!objects.is_empty());

    let period_end = DateTime::parse_from_rfc3339(json["period"]["to"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let mut compliance_ids = BTreeSet::new();
    for (object, (control, finding)) in objects.iter().zip(&findings) {
        let errors = validate(&fx, object);
        assert!(errors.is_empty(), "{errors:#?}\n{object}");
        assert_eq!(object["class_uid"], 2003);
        assert_eq!(object["category_uid"], 2);
        assert_eq!(object["activity_id"], 1);
        assert_eq!(object["type_uid"], 200301);
        assert_eq!(object["metadata"]["version"], fx["schema"]["version"]);
        assert_eq!(object["status_id"], 1, "New");

        // The compliance verdict and the severity are the finding's.
        let compliance = &object["compliance"];
        assert_eq!(compliance["control"], control["id"]);
        let expected = match finding["status"].as_str().unwrap() {
            "pass" => (1, "Pass"),
            "inconclusive" => (2, "Warning"),
            "fail" => (3, "Fail"),
            other => panic!("status {other}"),
        };
        assert_eq!(compliance["status_id"], expected.0, "{object}");
        assert_eq!(compliance["status"], expected.1);
        assert_eq!(compliance["status_code"], finding["status"]);
        compliance_ids.insert(expected.0);
        let severity = match control["severity"].as_str().unwrap() {
            "critical" => 5,
            "high" => 4,
            "medium" => 3,
            "low" => 2,
            "info" => 1,
            other => panic!("severity {other}"),
        };
        assert_eq!(object["severity_id"], severity);
        for (framework, ids) in control["requirements"].as_object().unwrap() {
            assert!(!ids.as_array().unwrap().is_empty(), "{framework}");
            assert!(!compliance["standards"].as_array().unwrap().is_empty());
        }

        // The resource, its account and the time are the finding's.
        assert_eq!(object["resources"][0]["uid"], finding["resource"]);
        if let Some(account) = finding["account_id"].as_str() {
            assert_eq!(object["cloud"]["account"]["uid"], account);
            assert_eq!(object["resources"][0]["owner"]["account"]["uid"], account);
        }
        let time = match finding["window_end"].as_str() {
            Some(end) => DateTime::parse_from_rfc3339(end)
                .unwrap()
                .timestamp_millis(),
            None if finding["window_start"].is_null() => period_end,
            None => object["time"].as_i64().unwrap(),
        };
        assert_eq!(object["time"], time);
        assert_eq!(object["evidences"][0]["data"], finding["evidence"]);
    }
    // Pass findings are written too, so a SIEM sees coverage.
    assert_eq!(compliance_ids, BTreeSet::from([1, 2, 3]));

    // finding_info.uid is unique, and stable: a second run writes the same bytes.
    let uids: Vec<&str> = objects
        .iter()
        .map(|o| o["finding_info"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids.iter().collect::<BTreeSet<_>>().len(), uids.len());
    assert!(uids.iter().all(|u| u.len() == 64));
    assert_eq!(report("ocsf"), ocsf, "the OCSF output differs between runs");
}

/// A sample object, hand-made to the schema, for the validator's own tests.
fn sample() -> Value {
    json!({
        "activity_id": 1, "activity_name": "Create", "category_uid": 2, "class_uid": 2003,
        "type_uid": 200301, "severity_id": 5, "severity": "Critical", "time": 1_791_158_400_000_i64,
        "status_id": 1, "status": "New",
        "metadata": {"version": "1.8.0", "product": {"name": "trailscope", "version": "0.1.0"}},
        "finding_info": {"uid": "abc", "title": "t",
            "analytic": {"uid": "CTL.X", "type_id": 1, "type": "Rule"}},
        "compliance": {"control": "CTL.X", "status_id": 3, "status": "Fail",
            "standards": ["CIS"], "requirements": ["CIS 3.1"], "status_details": ["fail"]},
        "cloud": {"provider": "AWS", "account": {"uid": "1", "type_id": 10}},
        "resources": [{"uid": "account/1", "owner": {"account": {"uid": "1"}}}],
        "remediation": {"desc": "fix it"},
        "evidences": [{"data": {"check": "alarm"}}],
        "unmapped": {"anything": {"goes": true}},
    })
}

#[test]
fn the_validator_catches_breakage() {
    let fx = fixture();
    assert_eq!(validate(&fx, &sample()), Vec::<String>::new());

    type Mutation = fn(&mut Value);
    let cases: [(&str, Mutation, &str); 14] = [
        (
            "time",
            |o| drop(o.as_object_mut().unwrap().remove("time")),
            "time: required",
        ),
        (
            "metadata.version",
            |o| drop(o["metadata"].as_object_mut().unwrap().remove("version")),
            "metadata.version: required",
        ),
        (
            "metadata.product",
            |o| drop(o["metadata"].as_object_mut().unwrap().remove("product")),
            "metadata.product: required",
        ),
        (
            "finding_info.uid",
            |o| drop(o["finding_info"].as_object_mut().unwrap().remove("uid")),
            "finding_info.uid: required",
        ),
        (
            "compliance",
            |o| drop(o.as_object_mut().unwrap().remove("compliance")),
            "compliance: required",
        ),
        (
            "cloud.provider",
            |o| drop(o["cloud"].as_object_mut().unwrap().remove("provider")),
            "cloud.provider: required",
        ),
        (
            "class_uid",
            |o| o["class_uid"] = json!(2002),
            "class_uid: 2002 is not in",
        ),
        (
            "type_uid",
            |o| o["type_uid"] = json!("200301"),
            "type_uid: \"200301\" is not of type",
        ),
        (
            "severity_id",
            |o| o["severity_id"] = json!(7),
            "severity_id: 7 is not in",
        ),
        (
            "severity caption",
            |o| o["severity"] = json!("High"),
            "severity: \"High\" is not",
        ),
        (
            "compliance caption",
            |o| o["compliance"]["status"] = json!("Pass"),
            "compliance.status: \"Pass\" is not",
        ),
        (
            "deprecated",
            |o| o["compliance"]["status_detail"] = json!("x"),
            "compliance.status_detail: deprecated",
        ),
        (
            "unknown attribute",
            |o| o["finding_info"]["titel"] = json!("x"),
            "finding_info.titel: not an attribute",
        ),
        (
            "constraint",
            |o| drop(o["evidences"][0].as_object_mut().unwrap().remove("data")),
            "evidences[0].: constraint at_least_one",
        ),
    ];
    for (what, mutate, expected) in cases {
        let mut broken = sample();
        mutate(&mut broken);
        let errors = validate(&fx, &broken);
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{what}: expected {expected:?} among {errors:#?}"
        );
    }

    // And on the real output: one required field removed from one object is reported.
    let mut object = lines(ocsf_output()).swap_remove(0);
    assert!(validate(&fx, &object).is_empty());
    object["finding_info"]
        .as_object_mut()
        .unwrap()
        .remove("uid");
    assert!(
        validate(&fx, &object)
            .iter()
            .any(|e| e == "finding_info.uid: required, missing")
    );
}
