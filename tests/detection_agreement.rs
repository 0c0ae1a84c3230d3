//! Labelled detections from other projects, run through our controls.
//!
//! panther-analysis rules carry unit tests (`Tests:` entries, each a CloudTrail record as `Log`
//! with an `ExpectedResult`); streamalert rules carry JSON tests (`{"Records": [...]}`, or a
//! CloudWatch event whose `detail` is the record, with the rules it must `trigger_rules`). For the
//! rules that watch the events our alarm controls watch, every test's records are planted in one
//! archive, each case under an account of its own (recipientAccountId), the whole catalog runs
//! once (`tests/controls.rs`, so `CONTROLS_DIR` applies), and the archive half of the mapped
//! control(s) (the alarm half needs a snapshot) is compared with the label: "ours" is true when
//! any mapped control fails for the case's account.
//!
//! Panther rules with a `Threshold` above 1 alert only when that many matches arrive within the
//! dedup period, while a test's label says whether one event matches; each such test labelled
//! true is also replayed `Threshold` times, 10 s apart, as an extra case.
//!
//! `tests/fixtures/detection-agreement.json` lists every compared case with what was observed
//! and, for each disagreement, a reason and why. The test fails with a diff when either side
//! changes (a rule's tests or one of our controls). `DETECTION_AGREEMENT_BLESS=1` rewrites the
//! fixture from what was observed, keeping the reasons, notes and exclusions already written; a
//! new disagreement gets reason "TODO", which fails until explained.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailscope::controls::{Finding, Status};

use crate::controls::{evaluate, verdict};
use crate::util::samples;

const FIXTURE: &str = "tests/fixtures/detection-agreement.json";
const BLESS: &str = "DETECTION_AGREEMENT_BLESS";
/// The time given to records without a usable eventTime.
const SAMPLE_TIME: &str = "2024-01-01T00:00:00Z";
/// Spacing of threshold replays: 20 copies still fit the 5-minute failed-login window.
const REPLAY_SPACING_SECONDS: i64 = 10;

const STOPLOGGING: &str = "CTL.CLOUDTRAIL.ALARM.STOPLOGGING.001";
const DELETETRAIL: &str = "CTL.CLOUDTRAIL.ALARM.DELETETRAIL.001";
const EVENTSELECTOR: &str = "CTL.CLOUDTRAIL.ALARM.EVENTSELECTOR.001";
const GUARDDUTY: &str = "CTL.CLOUDTRAIL.ALARM.GUARDDUTY.001";
const ORGCHANGE: &str = "CTL.CLOUDTRAIL.ALARM.ORGCHANGE.001";
const S3POLICY: &str = "CTL.CLOUDTRAIL.ALARM.S3POLICY.001";
const FAILEDLOGIN: &str = "CTL.CLOUDTRAIL.ALARM.FAILEDLOGIN.001";
const RECUR: &str = "CTL.CLOUDTRAIL.DISABLE.RECUR.001";

/// The event names each control's archive half watches (the controls also check the event
/// source, success and, for UpdateDetector, enable=false).
const WATCHED: &[(&str, &str)] = &[
    ("StopLogging", STOPLOGGING),
    ("DeleteTrail", DELETETRAIL),
    ("PutEventSelectors", EVENTSELECTOR),
    ("DeleteDetector", GUARDDUTY),
    ("DisableOrganizationAdminAccount", GUARDDUTY),
    ("StopMonitoringMembers", GUARDDUTY),
    ("UpdateDetector", GUARDDUTY),
    ("LeaveOrganization", ORGCHANGE),
    ("RemoveAccountFromOrganization", ORGCHANGE),
    ("InviteAccountToOrganization", ORGCHANGE),
    ("CreateAccount", ORGCHANGE),
    ("CloseAccount", ORGCHANGE),
    ("PutBucketPolicy", S3POLICY),
    ("DeleteBucketPolicy", S3POLICY),
    ("PutBucketAcl", S3POLICY),
    ("ConsoleLogin", FAILEDLOGIN),
];

#[derive(Clone, Copy, PartialEq)]
enum Source {
    Panther,
    StreamAlert,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Panther => "panther",
            Source::StreamAlert => "streamalert",
        }
    }
}

/// Which of a rule's tests are compared.
#[derive(Clone, Copy, PartialEq)]
enum Select {
    /// Every test whose log is a CloudTrail record.
    All,
    /// Tests with at least one record whose eventName one of our controls watches (for rules
    /// that cover much more than our controls do).
    Watched,
}

/// Which controls a case is compared with.
#[derive(Clone, Copy)]
enum Controls {
    Fixed(&'static [&'static str]),
    /// The controls watching the case's event names.
    Watching,
}

/// How the rule's intent relates to the controls'.
#[derive(Clone, Copy, PartialEq)]
enum Intent {
    /// Both look for the same thing (thresholds may differ).
    Same,
    /// The rule fires on a narrower condition within the events the control fires on.
    RuleNarrower,
    /// The control fires on a narrower condition within the events the rule fires on.
    ControlNarrower,
}

impl Intent {
    fn as_str(self) -> &'static str {
        match self {
            Intent::Same => "same",
            Intent::RuleNarrower => "rule_narrower",
            Intent::ControlNarrower => "control_narrower",
        }
    }
}

struct Mapping {
    controls: Controls,
    intent: Intent,
}

struct Rule {
    source: Source,
    /// Relative to the shared samples directory.
    path: &'static str,
    select: Select,
    mappings: &'static [Mapping],
    /// Threshold replays get a distinct userIdentity.userName per copy (the rule counts
    /// distinct users).
    replay_distinct_users: bool,
}

const fn rule(
    source: Source,
    path: &'static str,
    select: Select,
    mappings: &'static [Mapping],
) -> Rule {
    Rule {
        source,
        path,
        select,
        mappings,
        replay_distinct_users: false,
    }
}

const SAME_FAILEDLOGIN: &[Mapping] = &[Mapping {
    controls: Controls::Fixed(&[FAILEDLOGIN]),
    intent: Intent::Same,
}];

const RULES: &[Rule] = &[
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_cloudtrail_stopped.yml",
        Select::All,
        &[
            Mapping {
                controls: Controls::Fixed(&[STOPLOGGING, DELETETRAIL]),
                intent: Intent::Same,
            },
            Mapping {
                controls: Controls::Fixed(&[RECUR]),
                intent: Intent::ControlNarrower,
            },
        ],
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_security_configuration_change.yml",
        Select::All,
        &[Mapping {
            controls: Controls::Fixed(&[STOPLOGGING, DELETETRAIL, GUARDDUTY]),
            intent: Intent::Same,
        }],
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_cloudtrail_event_selectors_disabled.yml",
        Select::All,
        &[Mapping {
            controls: Controls::Fixed(&[EVENTSELECTOR]),
            intent: Intent::RuleNarrower,
        }],
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_cloudtrail_attempt_to_leave_org.yml",
        Select::All,
        &[Mapping {
            controls: Controls::Fixed(&[ORGCHANGE]),
            intent: Intent::Same,
        }],
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_s3_bucket_policy_modified.yml",
        Select::All,
        &[Mapping {
            controls: Controls::Fixed(&[S3POLICY]),
            intent: Intent::Same,
        }],
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_resource_made_public.yml",
        Select::Watched,
        &[Mapping {
            controls: Controls::Watching,
            intent: Intent::RuleNarrower,
        }],
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_console_root_login_failed.yml",
        Select::All,
        SAME_FAILEDLOGIN,
    ),
    Rule {
        replay_distinct_users: true,
        ..rule(
            Source::Panther,
            "panther-analysis/rules/aws_cloudtrail_rules/aws_cloudtrail_password_spraying.yml",
            Select::All,
            SAME_FAILEDLOGIN,
        )
    },
    rule(
        Source::Panther,
        "panther-analysis/rules/aws_cloudtrail_rules/aws_cloudtrail_unsuccessful_mfa_attempt.yml",
        Select::All,
        SAME_FAILEDLOGIN,
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/standard_rules/brute_force_by_ip.yml",
        Select::All,
        SAME_FAILEDLOGIN,
    ),
    rule(
        Source::Panther,
        "panther-analysis/rules/standard_rules/brute_force_by_user.yml",
        Select::All,
        SAME_FAILEDLOGIN,
    ),
    rule(
        Source::StreamAlert,
        "streamalert/rules/community/cloudwatch_events/cloudtrail_critical_api_calls.json",
        Select::Watched,
        &[Mapping {
            controls: Controls::Watching,
            intent: Intent::Same,
        }],
    ),
    rule(
        Source::StreamAlert,
        "streamalert/rules/community/cloudwatch_events/cloudtrail_put_bucket_acl.json",
        Select::All,
        &[Mapping {
            controls: Controls::Fixed(&[S3POLICY]),
            intent: Intent::RuleNarrower,
        }],
    ),
];

/// One labelled test (or a threshold replay of one), with its records as planted.
struct Case {
    rule: &'static Rule,
    test: String,
    label: bool,
    mocks: Vec<String>,
    replayed: Option<u32>,
    account: String,
    records: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PantherRule {
    #[serde(default)]
    tests: Vec<PantherTest>,
    threshold: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PantherTest {
    name: String,
    expected_result: bool,
    log: Value,
    #[serde(default)]
    mocks: Vec<Value>,
}

/// A raw labelled test before it is planted.
struct Raw {
    test: String,
    label: bool,
    mocks: Vec<String>,
    records: Vec<Value>,
    threshold: Option<u32>,
}

fn is_cloudtrail(record: &Value) -> bool {
    let log_type = record.get("p_log_type").and_then(Value::as_str);
    record["eventName"].is_string()
        && record["eventSource"].is_string()
        && log_type.is_none_or(|t| t == "AWS.CloudTrail")
}

fn load_raw(rule: &Rule) -> Vec<Raw> {
    let path = samples().join(rule.path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match rule.source {
        Source::Panther => {
            let parsed: PantherRule =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            parsed
                .tests
                .into_iter()
                .map(|t| Raw {
                    test: t.name,
                    label: t.expected_result,
                    mocks: t
                        .mocks
                        .iter()
                        .filter_map(|m| m["objectName"].as_str().map(str::to_string))
                        .collect(),
                    records: vec![t.log],
                    threshold: parsed.threshold,
                })
                .collect()
        }
        Source::StreamAlert => {
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            let tests: Vec<Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            tests
                .into_iter()
                .map(|t| {
                    let data = &t["data"];
                    let records = match data.get("Records").and_then(Value::as_array) {
                        Some(r) => r.clone(),
                        // A CloudWatch event: the CloudTrail record is its detail.
                        None => vec![data["detail"].clone()],
                    };
                    Raw {
                        test: t["description"].as_str().unwrap_or_default().to_string(),
                        label: t["trigger_rules"]
                            .as_array()
                            .is_some_and(|r| r.iter().any(|n| n.as_str() == Some(&name))),
                        mocks: Vec::new(),
                        records,
                        threshold: None,
                    }
                })
                .collect()
        }
    }
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    let s = s.trim_end_matches('Z');
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

fn is_region(s: &str) -> bool {
    s.contains('-')
        && s.ends_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The record as planted: under the case's account, with a unique eventID, an ISO eventTime
/// (kept when parseable, else SAMPLE_TIME, shifted by `offset`) and a real region name;
/// Panther's enrichment fields (p_*) dropped.
fn normalise(record: &Value, account: &str, n: usize, offset: Duration) -> Value {
    let mut r = record.as_object().cloned().unwrap_or_default();
    r.retain(|k, _| !k.starts_with("p_"));
    let time = r
        .get("eventTime")
        .and_then(parse_time)
        .unwrap_or_else(|| parse_time(&json!(SAMPLE_TIME)).unwrap())
        + offset;
    r.insert(
        "eventTime".into(),
        json!(time.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    );
    r.insert("recipientAccountId".into(), json!(account));
    r.insert("eventID".into(), json!(format!("{account}-{n:04}")));
    if !r
        .get("awsRegion")
        .and_then(Value::as_str)
        .is_some_and(is_region)
    {
        r.insert("awsRegion".into(), json!("us-east-1"));
    }
    Value::Object(r)
}

fn watched(name: &str) -> Option<&'static str> {
    WATCHED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

fn load_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let account = |cases: &Vec<Case>| format!("7{:011}", cases.len() + 1);
    for rule in RULES {
        let mut names = BTreeSet::new();
        for raw in load_raw(rule) {
            if !raw.records.iter().all(is_cloudtrail) {
                continue;
            }
            if rule.select == Select::Watched
                && !raw
                    .records
                    .iter()
                    .any(|r| watched(r["eventName"].as_str().unwrap()).is_some())
            {
                continue;
            }
            assert!(
                names.insert(raw.test.clone()),
                "{}: two tests named {:?}",
                rule.path,
                raw.test
            );
            let acct = account(&cases);
            let records = raw
                .records
                .iter()
                .enumerate()
                .map(|(n, r)| normalise(r, &acct, n, Duration::zero()))
                .collect();
            cases.push(Case {
                rule,
                test: raw.test.clone(),
                label: raw.label,
                mocks: raw.mocks.clone(),
                replayed: None,
                account: acct,
                records,
            });
            let Some(times) = raw.threshold.filter(|t| *t > 1 && raw.label) else {
                continue;
            };
            let acct = account(&cases);
            let mut records = Vec::new();
            for k in 0..times as usize {
                for r in &raw.records {
                    let offset = Duration::seconds(REPLAY_SPACING_SECONDS * k as i64);
                    let mut e = normalise(r, &acct, records.len(), offset);
                    if rule.replay_distinct_users {
                        e["userIdentity"]["userName"] = json!(format!("user{k:02}"));
                    }
                    records.push(e);
                }
            }
            cases.push(Case {
                rule,
                test: format!(
                    "{} [replayed x{times}, {REPLAY_SPACING_SECONDS} s apart: the rule's Threshold]",
                    raw.test
                ),
                label: raw.label,
                mocks: raw.mocks,
                replayed: Some(times),
                account: acct,
                records,
            });
        }
        assert!(!names.is_empty(), "{}: no test selected", rule.path);
    }
    cases
}

/// What a case's records are, for a reader: "StopLogging (error X)", "ConsoleLogin (Failure) x5".
fn describe(case: &Case) -> String {
    let mut parts: Vec<String> = Vec::new();
    for r in &case.records {
        let mut s = r["eventName"].as_str().unwrap().to_string();
        if let Some(code) = r["errorCode"].as_str() {
            s += &format!(" (error {code})");
        }
        if let Some(outcome) = r["responseElements"]["ConsoleLogin"].as_str() {
            s += &format!(" ({outcome})");
        }
        if let Some(enable) = r["requestParameters"]["enable"].as_bool() {
            s += &format!(" (enable={enable})");
        }
        if !parts.contains(&s) {
            parts.push(s);
        }
    }
    let mut out = parts.join("; ");
    if let Some(n) = case.replayed {
        out += &format!(" x{n}");
    }
    out
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct Row {
    source: String,
    rule: String,
    test: String,
    events: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mocks: Vec<String>,
    intent: String,
    label: bool,
    /// Each mapped control's archive-half verdict for the case's account.
    controls: BTreeMap<String, String>,
    /// When EVENTSELECTOR fails: whether our evidence flags a change as narrowing the trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    narrowing: Option<bool>,
    ours: bool,
    agree: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    why: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Row {
    fn key(&self) -> String {
        let controls: Vec<&str> = self
            .controls
            .keys()
            .map(|c| c.trim_start_matches("CTL.CLOUDTRAIL."))
            .collect();
        format!(
            "{} {} {:?} [{}]",
            self.source,
            self.rule.rsplit('/').next().unwrap(),
            self.test,
            controls.join("+")
        )
    }

    /// The row without what people write (reason, why, note).
    fn observed(&self) -> Row {
        Row {
            reason: None,
            why: None,
            note: None,
            ..self.clone()
        }
    }
}

/// The archive-half findings of one control for one account.
fn events_half<'a>(findings: &'a [Finding], id: &str, account: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| f.control_id == id && f.account_id.as_deref() == Some(account))
        .filter(|f| {
            serde_json::from_str::<Value>(&f.evidence).map_or(true, |e| e["check"] != "alarm")
        })
        .collect()
}

fn observe(cases: &[Case], findings: &[Finding]) -> Vec<Row> {
    let mut rows = Vec::new();
    for case in cases {
        for mapping in case.rule.mappings {
            let ids: BTreeSet<&str> = match mapping.controls {
                Controls::Fixed(ids) => ids.iter().copied().collect(),
                Controls::Watching => case
                    .records
                    .iter()
                    .filter_map(|r| watched(r["eventName"].as_str().unwrap()))
                    .collect(),
            };
            let mut controls = BTreeMap::new();
            let mut ours = false;
            let mut narrowing = None;
            for id in ids {
                let mine: Vec<Finding> = events_half(findings, id, &case.account)
                    .into_iter()
                    .cloned()
                    .collect();
                let status = verdict(&mine, id);
                ours |= status == Some(Status::Fail);
                controls.insert(
                    id.to_string(),
                    status.map_or("no finding", Status::as_str).to_string(),
                );
                if id == EVENTSELECTOR && status == Some(Status::Fail) {
                    narrowing = Some(mine.iter().any(|f| {
                        serde_json::from_str::<Value>(&f.evidence)
                            .is_ok_and(|e| e["narrowing"] == json!(true))
                    }));
                }
            }
            rows.push(Row {
                source: case.rule.source.as_str().to_string(),
                rule: case.rule.path.to_string(),
                test: case.test.clone(),
                events: describe(case),
                mocks: case.mocks.clone(),
                intent: mapping.intent.as_str().to_string(),
                label: case.label,
                controls,
                narrowing,
                ours,
                agree: ours == case.label,
                reason: None,
                why: None,
                note: None,
            });
        }
    }
    rows
}

#[derive(Serialize, Deserialize, Default, PartialEq, Debug)]
struct Counts {
    cases: usize,
    agree: usize,
    disagree: usize,
}

impl Counts {
    fn add(&mut self, agree: bool) {
        self.cases += 1;
        if agree {
            self.agree += 1;
        } else {
            self.disagree += 1;
        }
    }
}

#[derive(Serialize, Deserialize, Default, PartialEq, Debug)]
struct Summary {
    all: Counts,
    /// Cases that are a rule's own tests (not threshold replays).
    labelled: Counts,
    replays: Counts,
    by_intent: BTreeMap<String, Counts>,
    disagreements_by_reason: BTreeMap<String, usize>,
}

fn summarise(rows: &[Row]) -> Summary {
    let mut s = Summary::default();
    for r in rows {
        s.all.add(r.agree);
        if r.test.contains("[replayed x") {
            s.replays.add(r.agree);
        } else {
            s.labelled.add(r.agree);
        }
        s.by_intent
            .entry(r.intent.clone())
            .or_default()
            .add(r.agree);
        if !r.agree {
            let reason = r.reason.clone().unwrap_or_else(|| "TODO".into());
            *s.disagreements_by_reason.entry(reason).or_default() += 1;
        }
    }
    s
}

#[derive(Serialize, Deserialize)]
struct Fixture {
    about: String,
    intents: BTreeMap<String, String>,
    /// Rules looked at and left out, with why (written by hand, kept by bless).
    #[serde(default)]
    excluded: Vec<Value>,
    summary: Summary,
    cases: Vec<Row>,
}

fn about() -> String {
    format!(
        "Labelled detection tests of panther-analysis and streamalert (testdata/samples) for the \
         events our alarm controls watch, run through the catalog: each case's records planted under an \
         account of its own (recipientAccountId replaced, eventID made unique, a missing or non-ISO \
         eventTime set to {SAMPLE_TIME} or rewritten as ISO, a placeholder awsRegion set to us-east-1, \
         Panther p_* fields dropped), no snapshot, so only the archive half of the 'both' controls is \
         compared. 'ours' is true when any listed control fails for the case's account; 'agree' when \
         that equals the label. Cases named '[replayed xN ...]' replay a rule's test N times where the \
         Panther rule's Threshold is N. Written by tests/detection_agreement.rs ({BLESS}=1), reasons by hand."
    )
}

fn intents() -> BTreeMap<String, String> {
    [
        (Intent::Same, "the rule and the control look for the same thing (thresholds may differ)"),
        (
            Intent::RuleNarrower,
            "the rule fires on a narrower condition within the events the control fires on: it may stay quiet where we fire, never the reverse",
        ),
        (
            Intent::ControlNarrower,
            "the control fires on a narrower condition within the events the rule fires on: we may stay quiet where it fires, never the reverse",
        ),
    ]
    .into_iter()
    .map(|(i, s)| (i.as_str().to_string(), s.to_string()))
    .collect()
}

/// Differences between the fixture's cases and the observed ones, one line each.
fn diff(expected: &[Row], observed: &[Row]) -> Vec<String> {
    let exp: BTreeMap<String, &Row> = expected.iter().map(|r| (r.key(), r)).collect();
    let obs: BTreeMap<String, &Row> = observed.iter().map(|r| (r.key(), r)).collect();
    let brief = |r: &Row| {
        let controls: Vec<String> = r
            .controls
            .iter()
            .map(|(c, v)| format!("{}={v}", c.trim_start_matches("CTL.CLOUDTRAIL.")))
            .collect();
        format!(
            "events {:?}, label {}, ours {} ({}){}",
            r.events,
            r.label,
            r.ours,
            controls.join(", "),
            r.narrowing
                .map_or(String::new(), |n| format!(", narrowing {n}"))
        )
    };
    let mut out = Vec::new();
    for (k, e) in &exp {
        match obs.get(k) {
            None => out.push(format!("  gone:    {k}: was {}", brief(e))),
            Some(o) if e.observed() != o.observed() => {
                out.push(format!(
                    "  changed: {k}\n      fixture:  {}\n      observed: {}",
                    brief(e),
                    brief(o)
                ));
            }
            Some(_) => {}
        }
    }
    for (k, o) in &obs {
        if !exp.contains_key(k) {
            out.push(format!("  new:     {k}: {}", brief(o)));
        }
    }
    out
}

/// Fixture rules that hold whatever was observed: every disagreement explained, none of the
/// intent-ruled-out directions, same-intent disagreements a minority.
fn check_explanations(rows: &[Row]) -> Vec<String> {
    let mut problems = Vec::new();
    for r in rows {
        let unwritten =
            |f: &Option<String>| f.as_deref().is_none_or(|s| s.is_empty() || s == "TODO");
        if r.agree != (r.ours == r.label) {
            problems.push(format!("  {}: agree must be ours == label", r.key()));
        }
        if !r.agree && (unwritten(&r.reason) || unwritten(&r.why)) {
            problems.push(format!(
                "  {}: a disagreement needs a reason and a why",
                r.key()
            ));
        }
        if r.agree && (r.reason.is_some() || r.why.is_some()) {
            problems.push(format!(
                "  {}: agrees now; drop its reason and why (or keep a note)",
                r.key()
            ));
        }
        if r.intent == Intent::RuleNarrower.as_str() && r.label && !r.ours {
            problems.push(format!(
                "  {}: the rule is narrower than the control, yet the control missed what it catches",
                r.key()
            ));
        }
        if r.intent == Intent::ControlNarrower.as_str() && !r.label && r.ours {
            problems.push(format!(
                "  {}: the control is narrower than the rule, yet fired where the rule does not",
                r.key()
            ));
        }
    }
    let same: Vec<&Row> = rows
        .iter()
        .filter(|r| r.intent == Intent::Same.as_str() && !r.test.contains("[replayed x"))
        .collect();
    let disagree = same.iter().filter(|r| !r.agree).count();
    if disagree * 2 >= same.len() {
        problems.push(format!(
            "  same-intent labelled cases: {disagree} of {} disagree, not a minority",
            same.len()
        ));
    }
    problems
}

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelled_detections_agree_with_our_controls() {
    let cases = load_cases();
    let events: Vec<Value> = cases.iter().flat_map(|c| c.records.clone()).collect();
    // One catalog run for all cases: every control involved judges per account.
    let findings = evaluate(None, &events, &Value::Null).await;
    let mut observed = observe(&cases, &findings);

    let path = fixture_path();
    let existing: Option<Fixture> = std::fs::read_to_string(&path)
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("{FIXTURE}: {e}")));

    if std::env::var_os(BLESS).is_some() {
        let written: BTreeMap<String, &Row> = existing
            .iter()
            .flat_map(|f| &f.cases)
            .map(|r| (r.key(), r))
            .collect();
        for r in &mut observed {
            let old = written.get(&r.key());
            r.note = old.and_then(|o| o.note.clone());
            if !r.agree {
                r.reason = Some(old.and_then(|o| o.reason.clone()).unwrap_or("TODO".into()));
                r.why = Some(old.and_then(|o| o.why.clone()).unwrap_or("TODO".into()));
            }
        }
        let fixture = Fixture {
            about: about(),
            intents: intents(),
            excluded: existing.map(|f| f.excluded).unwrap_or_default(),
            summary: summarise(&observed),
            cases: observed,
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&fixture).unwrap() + "\n",
        )
        .unwrap();
        let problems = check_explanations(&fixture.cases);
        assert!(
            problems.is_empty(),
            "{FIXTURE} rewritten; explain these:\n{}",
            problems.join("\n")
        );
        return;
    }

    let fixture = existing.unwrap_or_else(|| {
        panic!("{FIXTURE} missing: run with {BLESS}=1 to write it, then explain each disagreement")
    });
    let mut problems = diff(&fixture.cases, &observed);
    if !problems.is_empty() {
        problems.insert(
            0,
            format!(
                "{FIXTURE} no longer matches what the rules' tests and our controls give \
                 ({BLESS}=1 rewrites it, keeping the reasons written):"
            ),
        );
    }
    let explanations = check_explanations(&fixture.cases);
    if !explanations.is_empty() {
        problems.push(format!("{FIXTURE}:"));
        problems.extend(explanations);
    }
    if fixture.summary != summarise(&fixture.cases) {
        problems.push(format!(
            "{FIXTURE}: summary does not add up to the cases; it should be\n{}",
            serde_json::to_string_pretty(&summarise(&fixture.cases)).unwrap()
        ));
    }
    for e in &fixture.excluded {
        let rule = e["rule"].as_str().unwrap_or_default();
        if !samples().join(rule).is_file() || e["why"].as_str().is_none_or(str::is_empty) {
            problems.push(format!(
                "{FIXTURE}: excluded entry {e} needs an existing rule file and a why"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
