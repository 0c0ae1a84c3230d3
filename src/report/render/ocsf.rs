//! OCSF Compliance Finding objects (OCSF 1.8.0, class `compliance_finding`, class_uid 2003,
//! category "Findings" 2), one per finding of the report, for SIEMs.
//!
//! Every finding is written, passing ones too (`compliance.status_id` 1 "Pass"), so a SIEM sees
//! what was covered and not only what failed. The objects are a function of the report: `time`
//! and every other timestamp come from the finding's window or the report period, never from the
//! wall clock, and `finding_info.uid` is a hash of what identifies the finding, so two runs over
//! the same inputs write the same lines.
//!
//! Schema source: github.com/ocsf/ocsf-schema at tag 1.8.0 (commit 6fa6499a). The required
//! attributes and enums this module must honour are in
//! `tests/fixtures/ocsf/compliance_finding-1.8.0-required.json`, which the tests check every object
//! against.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::super::{ComplianceReport, ControlResult, FindingEntry, Framework};
use crate::controls::{Kind, Severity, Status};

/// The OCSF schema version written to `metadata.version`.
pub const SCHEMA_VERSION: &str = "1.8.0";
/// `compliance_finding`: category uid 2 * 1000 + class uid 3.
pub const CLASS_UID: i64 = 2003;
pub const CATEGORY_UID: i64 = 2;
/// `activity_id` 1 "Create": each report states its findings afresh; it does not update a SIEM's
/// earlier ones (their `finding_info.uid` differs by period).
pub const ACTIVITY_CREATE: i64 = 1;

/// OCSF `severity_id` (dictionary.json, 1.8.0) and its caption (`severity`) for our severity.
pub fn severity(s: Severity) -> (i64, &'static str) {
    match s {
        Severity::Critical => (5, "Critical"),
        Severity::High => (4, "High"),
        Severity::Medium => (3, "Medium"),
        Severity::Low => (2, "Low"),
        Severity::Info => (1, "Informational"),
    }
}

/// `compliance.status_id` and `compliance.status` (objects/compliance.json, 1.8.0: 1 Pass,
/// 2 Warning, 3 Fail). Inconclusive maps to 2 "Warning", whose schema description is exactly our
/// case: "The compliance check did not yield a result due to missing information." (0 "Unknown"
/// would say nothing about why; `compliance.status_code` keeps our own word, "inconclusive".)
pub fn compliance_status(s: Status) -> (i64, &'static str) {
    match s {
        Status::Pass => (1, "Pass"),
        Status::Inconclusive => (2, "Warning"),
        Status::Fail => (3, "Fail"),
    }
}

/// The finding's workflow `status_id` (events/findings/finding.json, 1.8.0): 1 "New" for every
/// finding; review states (In Progress, Suppressed, Resolved) belong to the SIEM's analysts.
pub const STATUS_NEW: (i64, &str) = (1, "New");

/// Short labels that prefix requirement ids in `compliance.requirements` ("CIS 3.1").
fn label(f: Framework) -> &'static str {
    match f {
        Framework::Cis => "CIS",
        Framework::Nist => "NIST",
        Framework::Pci => "PCI DSS",
        Framework::Soc2 => "SOC 2",
        Framework::Hipaa => "HIPAA",
        Framework::Iso27001 => "ISO 27001",
        Framework::FedRamp => "FedRAMP",
    }
}

pub fn findings(report: &ComplianceReport) -> Vec<Value> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut out = Vec::new();
    for control in &report.controls {
        for finding in &control.findings {
            let key = identity(report, control, finding);
            // Two findings with the same identity (never seen, but not excluded by the controls'
            // contract) still get distinct uids: the report's order of findings is total.
            let n = seen.entry(key.clone()).or_insert(0);
            let uid = hex::encode(Sha256::digest(format!("{key}\u{1f}{n}").as_bytes()));
            *n += 1;
            out.push(object(report, control, finding, uid));
        }
    }
    out
}

/// What identifies a finding across runs: format tag, period, control, resource, account, region
/// and window (a control may report one resource once per window).
fn identity(report: &ComplianceReport, control: &ControlResult, f: &FindingEntry) -> String {
    [
        "trailscope.ocsf/1",
        &report.period.from.to_rfc3339(),
        &report.period.to.to_rfc3339(),
        &control.id,
        &f.resource,
        f.account_id.as_deref().unwrap_or(""),
        f.region.as_deref().unwrap_or(""),
        f.window_start.as_deref().unwrap_or(""),
        f.window_end.as_deref().unwrap_or(""),
    ]
    .join("\u{1f}")
}

fn millis(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

fn object(report: &ComplianceReport, c: &ControlResult, f: &FindingEntry, uid: String) -> Value {
    let (severity_id, severity) = severity(c.severity);
    let (compliance_id, compliance) = compliance_status(f.status);
    let start = f.window_start.as_deref().and_then(millis);
    let end = f.window_end.as_deref().and_then(millis);
    // `time` (required, timestamp_t): when the finding holds; a state finding (no window) holds
    // at the end of the report period.
    let period_end = report.period.to.timestamp_millis();
    let time = end.or(start).unwrap_or(period_end);
    let arn = Arn::parse(&f.resource);
    let account = f
        .account_id
        .clone()
        .or_else(|| arn.as_ref().and_then(|a| a.account.clone()));
    let region = f
        .region
        .clone()
        .or_else(|| arn.as_ref().and_then(|a| a.region.clone()));
    let partition = arn.as_ref().map(|a| a.partition.clone());

    let mut finding_info = json!({
        "uid": uid,
        "title": c.title,
        "types": [format!("trailscope/{}", c.domain)],
        "created_time": time,
        // `analytic` (recommended): the control is a rule (type_id 1 "Rule").
        "analytic": {"uid": c.id, "name": c.title, "type_id": 1, "type": "Rule"},
        "product": product(report),
    });
    if let Some(desc) = &c.description {
        finding_info["desc"] = json!(desc);
    }
    if let Some(t) = start {
        finding_info["first_seen_time"] = json!(t);
    }
    if let Some(t) = end {
        finding_info["last_seen_time"] = json!(t);
    }

    let mut standards = Vec::new();
    let mut requirements = Vec::new();
    for (id, reqs) in &c.requirements {
        let Some(fw) = Framework::ALL.into_iter().find(|f| f.id() == id) else {
            continue;
        };
        if !report.scope.frameworks.iter().any(|s| s == id) {
            continue;
        }
        standards.push(fw.name().to_string());
        requirements.extend(reqs.iter().map(|r| format!("{} {r}", label(fw))));
    }
    let mut compliance_obj = json!({
        "control": c.id,
        "status_id": compliance_id,
        "status": compliance,
        // Our own verdict, verbatim (`status_code`: "the resultant status code of the check").
        "status_code": f.status.as_str(),
        // `status_details` (string array) replaces `status_detail`, deprecated since 1.4.0.
        "status_details": [status_detail(f)],
        "category": c.domain,
    });
    if !standards.is_empty() {
        compliance_obj["standards"] = json!(standards);
        compliance_obj["requirements"] = json!(requirements);
    }
    if let Some(desc) = &c.description {
        compliance_obj["desc"] = json!(desc);
    }

    // `cloud` is required once the `cloud` profile is applied (profiles/cloud.json); `provider`
    // is its only required attribute.
    let mut cloud = json!({"provider": "AWS"});
    if let Some(a) = &account {
        cloud["account"] = aws_account(a);
    }
    if let Some(r) = &region {
        cloud["region"] = json!(r);
    }
    if let Some(p) = &partition {
        cloud["cloud_partition"] = json!(p);
    }

    let mut resource = Map::new();
    resource.insert("uid".into(), json!(f.resource));
    resource.insert("name".into(), json!(resource_name(&f.resource, &arn)));
    if let Some(t) = resource_type(&f.resource, &arn, c.kind) {
        resource.insert("type".into(), json!(t));
    }
    // role_id 1 "Target": the resource is the subject of the check.
    resource.insert("role_id".into(), json!(1));
    resource.insert("role".into(), json!("Target"));
    if let Some(p) = &partition {
        resource.insert("cloud_partition".into(), json!(p));
    }
    if let Some(r) = &region {
        resource.insert("region".into(), json!(r));
    }
    if let Some(a) = &account {
        // `owner` is a User object; an AWS account owns the resource, so only `owner.account`.
        resource.insert("owner".into(), json!({"account": aws_account(a)}));
    }

    let mut metadata = json!({
        "version": SCHEMA_VERSION,
        "product": product(report),
        // The applied profile that makes `cloud` required and allows the resources' cloud
        // attributes (`cloud_partition`, `region`).
        "profiles": ["cloud"],
        "original_time": f
            .window_end
            .clone()
            .or_else(|| f.window_start.clone())
            .unwrap_or_else(|| report.period.to.to_rfc3339_opts(SecondsFormat::Secs, true)),
        "source": "trailscope report",
    });
    if let Some(sha) = &report.manifest.report_sha256 {
        // Every finding of one report shares its sealed digest (docs/report-json.md).
        metadata["correlation_uid"] = json!(sha);
    }

    let mut event = json!({
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": STATUS_NEW.0,
        "status": STATUS_NEW.1,
        "time": time,
        "timezone_offset": 0,
        "message": format!("{}: {} ({})", compliance, c.title, f.resource),
        "metadata": metadata,
        "finding_info": finding_info,
        "compliance": compliance_obj,
        "resources": [Value::Object(resource)],
        "cloud": cloud,
        "remediation": {"desc": c.remediation},
        // `evidences[].data` (json_t) carries our evidence as is; it satisfies the object's
        // `at_least_one` constraint.
        "evidences": [{"name": "trailscope evidence", "data": f.evidence}],
        "unmapped": {
            "trailscope": {
                "control_status": c.status.as_str(),
                "control_kind": c.kind,
                "control_severity": c.severity.as_str(),
                "period": report.period.label,
            }
        },
    });
    if let Some(t) = start {
        event["start_time"] = json!(t);
    }
    if let Some(t) = end {
        event["end_time"] = json!(t);
    }
    event
}

fn product(report: &ComplianceReport) -> Value {
    json!({
        "name": report.tool.name,
        "vendor_name": report.tool.name,
        "version": report.tool.version,
    })
}

/// An `account` object for an AWS account (type_id 10 "AWS Account").
fn aws_account(id: &str) -> Value {
    json!({"uid": id, "type_id": 10, "type": "AWS Account"})
}

/// Why the finding has its status: for an inconclusive one what it lacked (as the report's
/// `lacks` reads it: `missing`, `reason`, `error` or `lacks` in the evidence).
fn status_detail(f: &FindingEntry) -> String {
    let lack = ["missing", "reason", "error", "lacks"]
        .iter()
        .find_map(|k| match f.evidence.get(*k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Some(v) if !v.is_null() => Some(v.to_string()),
            _ => None,
        });
    match (f.status, lack) {
        (Status::Inconclusive, Some(l)) => format!("inconclusive: {l}"),
        (s, _) => s.as_str().to_string(),
    }
}

/// The parts of `arn:partition:service:region:account:resource` that OCSF has places for.
#[derive(Debug, PartialEq)]
struct Arn {
    partition: String,
    service: String,
    region: Option<String>,
    account: Option<String>,
    resource: String,
}

impl Arn {
    fn parse(text: &str) -> Option<Arn> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let partition = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        let region = some(parts.next()?);
        let account = some(parts.next()?);
        let resource = parts.next()?.to_string();
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

fn resource_name(resource: &str, arn: &Option<Arn>) -> String {
    if let Some(a) = arn {
        return a
            .resource
            .rsplit(['/', ':'])
            .next()
            .unwrap_or(&a.resource)
            .to_string();
    }
    resource
        .strip_prefix("account/")
        .unwrap_or(resource)
        .to_string()
}

/// A CloudFormation-style type (as AWS Config and Security Hub name them). Our controls name
/// accounts `account/<id>`, trails and principals by ARN and buckets by bare name; the meta
/// control's resource without an account is the catalog, which has no AWS type.
fn resource_type(resource: &str, arn: &Option<Arn>, kind: Kind) -> Option<String> {
    if resource.starts_with("account/") {
        return Some("AWS::::Account".into());
    }
    if let Some(a) = arn {
        let service = match a.service.as_str() {
            "cloudtrail" => "CloudTrail".to_string(),
            "iam" => "IAM".to_string(),
            "s3" => "S3".to_string(),
            "kms" => "KMS".to_string(),
            "sns" => "SNS".to_string(),
            "logs" => "Logs".to_string(),
            "cloudwatch" => "CloudWatch".to_string(),
            other => capitalize(other),
        };
        let kind = a.resource.split(['/', ':']).next().unwrap_or_default();
        let kind = match (a.service.as_str(), kind) {
            ("s3", _) => "Bucket".to_string(),
            ("logs", "log-group") => "LogGroup".to_string(),
            _ => capitalize(kind),
        };
        return Some(format!("AWS::{service}::{kind}"));
    }
    (kind != Kind::Meta).then(|| "AWS::S3::Bucket".to_string())
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_map_to_ocsf_severity_ids() {
        assert_eq!(severity(Severity::Critical), (5, "Critical"));
        assert_eq!(severity(Severity::High), (4, "High"));
        assert_eq!(severity(Severity::Medium), (3, "Medium"));
        assert_eq!(severity(Severity::Low), (2, "Low"));
        assert_eq!(severity(Severity::Info), (1, "Informational"));
    }

    #[test]
    fn statuses_map_to_ocsf_compliance_statuses() {
        assert_eq!(compliance_status(Status::Pass), (1, "Pass"));
        assert_eq!(compliance_status(Status::Inconclusive), (2, "Warning"));
        assert_eq!(compliance_status(Status::Fail), (3, "Fail"));
        assert_eq!(STATUS_NEW, (1, "New"));
        assert_eq!(CLASS_UID * 100 + ACTIVITY_CREATE, 200301);
    }

    #[test]
    fn resources_get_cloudformation_types() {
        let t = |r: &str, k| resource_type(r, &Arn::parse(r), k);
        assert_eq!(
            t("account/566424620868", Kind::State).as_deref(),
            Some("AWS::::Account")
        );
        let trail = "arn:aws:cloudtrail:us-east-1:566424620868:trail/management-events";
        assert_eq!(
            t(trail, Kind::State).as_deref(),
            Some("AWS::CloudTrail::Trail")
        );
        assert_eq!(
            resource_name(trail, &Arn::parse(trail)),
            "management-events"
        );
        let role = "arn:aws:iam::566424620868:role/BreakGlassAdmin";
        assert_eq!(t(role, Kind::State).as_deref(), Some("AWS::IAM::Role"));
        assert_eq!(Arn::parse(role).unwrap().region, None);
        assert_eq!(
            t("trailscope-demo-logs", Kind::State).as_deref(),
            Some("AWS::S3::Bucket")
        );
        assert_eq!(t("catalog", Kind::Meta), None);
    }

    #[test]
    fn inconclusive_details_say_what_was_lacking() {
        let entry = |status, evidence: Value| FindingEntry {
            status,
            resource: "account/1".into(),
            account_id: Some("1".into()),
            region: None,
            window_start: None,
            window_end: None,
            evidence,
        };
        assert_eq!(
            status_detail(&entry(
                Status::Inconclusive,
                json!({"missing": ["trails", "alarms"]})
            )),
            "inconclusive: trails, alarms"
        );
        assert_eq!(
            status_detail(&entry(Status::Fail, json!({"reason": "x"}))),
            "fail"
        );
    }
}
