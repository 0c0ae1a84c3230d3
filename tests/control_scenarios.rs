//! The three event analyses on generated archives: a month of realistic background activity from
//! `trailscope::generate`, with the scenario's calls planted in it. The background must not fire
//! on its own (checked first), so each verdict is the scenario's.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use trailscope::controls::{Finding, Status};
use trailscope::generate::{GenerateOptions, StopEpisode, generate};

use crate::controls::{plant_events, verdict};

const RECUR: &str = "CTL.CLOUDTRAIL.DISABLE.RECUR.001";
const DELETION: &str = "CTL.CLOUDTRAIL.ALARM.RESOURCEDELETION.001";
const LOGINS: &str = "CTL.CLOUDTRAIL.ALARM.FAILEDLOGIN.001";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// A 30-day, one-account archive with `stops`, plus `extra` calls by that account; the findings.
async fn scenario(stops: &[(&str, Option<&str>)], extra: Vec<Value>) -> (Vec<Finding>, String) {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        start: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
        days: 30,
        accounts: 1,
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        events_per_day: 150,
        seed: 7,
        digests: false,
        stops: stops
            .iter()
            .map(|(stop, restart)| StopEpisode {
                account_index: 0,
                stop: t(stop),
                restart: restart.map(t),
            })
            .collect(),
        ..GenerateOptions::default()
    };
    let summary = generate(dir.path(), &opts).unwrap();
    let account = summary.accounts[0].clone();
    let extra: Vec<Value> = extra
        .into_iter()
        .map(|mut e| {
            e["recipientAccountId"] = json!(account);
            e
        })
        .collect();
    plant_events(dir.path(), &extra);
    let findings = evaluate_dir(dir.path()).await;
    (findings, account)
}

async fn evaluate_dir(dir: &std::path::Path) -> Vec<Finding> {
    crate::controls::evaluate_archive(dir, None, &Value::Null, &[RECUR, DELETION, LOGINS]).await
}

/// The verdict of a control's archive half (for "both" controls the alarm half needs a snapshot).
fn events_verdict(findings: &[Finding], id: &str) -> Option<Status> {
    let events: Vec<Finding> = findings
        .iter()
        .filter(|f| f.control_id == id && !f.evidence.contains(r#""check":"alarm""#))
        .cloned()
        .collect();
    verdict(&events, id)
}

fn calls(
    name: &str,
    source: &str,
    start: &str,
    every_seconds: i64,
    n: usize,
    error: Option<&str>,
) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let time = t(start) + Duration::seconds(every_seconds * i as i64);
            let mut e = json!({"eventTime": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "eventSource": source, "eventName": name, "awsRegion": "eu-west-1"});
            if let Some(code) = error {
                e["errorCode"] = json!(code);
                e["errorMessage"] = json!(if name == "ConsoleLogin" {
                    "Failed authentication"
                } else {
                    "denied"
                });
            }
            if name == "ConsoleLogin" {
                e["responseElements"] =
                    json!({"ConsoleLogin": if error.is_some() { "Failure" } else { "Success" }});
                e["eventSource"] = json!("signin.amazonaws.com");
            }
            e
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_alone_fires_none_of_the_three() {
    let (findings, _) = scenario(&[], Vec::new()).await;
    for id in [RECUR, DELETION, LOGINS] {
        assert_eq!(
            events_verdict(&findings, id),
            Some(Status::Pass),
            "{id}: {findings:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_restart_recurrence() {
    // Three completed cycles within 30 days fire for that trail, with every cycle in evidence.
    let three = [
        ("2026-09-03T02:00:00Z", Some("2026-09-03T03:00:00Z")),
        ("2026-09-10T02:00:00Z", Some("2026-09-10T05:00:00Z")),
        ("2026-09-20T01:00:00Z", Some("2026-09-20T01:30:00Z")),
    ];
    let (findings, account) = scenario(&three, Vec::new()).await;
    assert_eq!(verdict(&findings, RECUR), Some(Status::Fail));
    let fail = findings
        .iter()
        .find(|f| f.control_id == RECUR && f.status == Status::Fail)
        .unwrap();
    assert!(
        fail.resource.contains(&account) && fail.resource.contains(":trail/"),
        "{fail:?}"
    );
    let evidence: Value = serde_json::from_str(&fail.evidence).unwrap();
    assert_eq!(evidence["completed_cycles"], json!(3));
    let cycles: Value = serde_json::from_str(evidence["cycles"].as_str().unwrap()).unwrap();
    assert_eq!(cycles.as_array().unwrap().len(), 3);
    assert_eq!(cycles[0]["off_for_seconds"].as_f64(), Some(3600.0));
    assert!(
        cycles[0]["stop_log_file"]
            .as_str()
            .unwrap()
            .ends_with(".json.gz")
    );
    assert_eq!(
        fail.window_start.as_deref().map(|s| &s[..19]),
        Some("2026-09-03T02:00:00")
    );

    // One cycle does not fire.
    let (findings, _) = scenario(&three[..1], Vec::new()).await;
    assert_eq!(verdict(&findings, RECUR), Some(Status::Pass));

    // A failed StopLogging is an attempt, not a cycle: one real cycle plus a denied stop and a
    // StartLogging would be two cycles if the denied call counted; it passes, attempt listed.
    let trail = findings
        .iter()
        .find(|f| f.control_id == RECUR && f.resource.contains(":trail/"))
        .unwrap()
        .resource
        .clone();
    let on_trail = |mut e: Value| {
        e["awsRegion"] = json!("us-east-1");
        e["requestParameters"] = json!({"name": trail});
        e
    };
    let cloudtrail = "cloudtrail.amazonaws.com";
    let mut attempt: Vec<Value> = calls(
        "StopLogging",
        cloudtrail,
        "2026-09-12T02:00:00Z",
        60,
        1,
        Some("AccessDenied"),
    )
    .into_iter()
    .chain(calls(
        "StartLogging",
        cloudtrail,
        "2026-09-12T02:05:00Z",
        60,
        1,
        None,
    ))
    .map(on_trail)
    .collect();
    attempt.sort_by_key(|e| e["eventTime"].as_str().unwrap().to_string());
    let (findings, _) = scenario(&three[..1], attempt).await;
    assert_eq!(
        verdict(&findings, RECUR),
        Some(Status::Pass),
        "{findings:#?}"
    );
    let row = findings
        .iter()
        .find(|f| f.control_id == RECUR && f.resource == trail)
        .unwrap();
    let evidence: Value = serde_json::from_str(&row.evidence).unwrap();
    assert_eq!(evidence["failed_attempts"], json!(1));
    assert_eq!(evidence["completed_cycles"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_deletion_windows() {
    let burst = |spacing: i64, n: usize, error: Option<&str>| {
        calls(
            "TerminateInstances",
            "ec2.amazonaws.com",
            "2026-09-15T10:00:00Z",
            spacing,
            n,
            error,
        )
    };
    // 6 in 7 minutes (84 s apart) fire, with one merged window holding all six.
    let (findings, _) = scenario(&[], burst(84, 6, None)).await;
    assert_eq!(events_verdict(&findings, DELETION), Some(Status::Fail));
    let fails: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.control_id == DELETION && f.status == Status::Fail)
        .collect();
    assert_eq!(fails.len(), 1, "{fails:#?}");
    let evidence: Value = serde_json::from_str(&fails[0].evidence).unwrap();
    assert_eq!(evidence["calls"], json!(6));
    // 4 in 10 minutes, 5 spread over 25 minutes, and 6 failed calls do not.
    for (what, events) in [
        ("4 in 10 min", burst(150, 4, None)),
        ("5 over 25 min", burst(375, 5, None)),
        ("6 failed", burst(84, 6, Some("UnauthorizedOperation"))),
    ] {
        let (findings, _) = scenario(&[], events).await;
        assert_eq!(
            events_verdict(&findings, DELETION),
            Some(Status::Pass),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_console_logins() {
    let logins = |n: usize| {
        calls(
            "ConsoleLogin",
            "signin.amazonaws.com",
            "2026-09-20T08:00:00Z",
            34,
            n,
            Some("Failed authentication"),
        )
    };
    let (findings, _) = scenario(&[], logins(7)).await;
    assert_eq!(events_verdict(&findings, LOGINS), Some(Status::Fail));
    let (findings, _) = scenario(&[], logins(3)).await;
    assert_eq!(events_verdict(&findings, LOGINS), Some(Status::Pass));
}
