//! The Sigma compiler, case by case: every modifier, condition form and correlation type, each
//! with events that must fire and near misses that must not.
//!
//! All cases' events are planted in one archive (each case under its own `eventSource`, so rules
//! cannot see each other's events) and all rules run in one `detect`; each rule must hit exactly
//! its firing events (the cases are in `tests/detect_cases.rs`). The Stratus Red Team test checks
//! our own pack against real detonations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use trailscope::archive::{Location, S3Options, Scope};
use trailscope::detect::{self, Hit, load};
use trailscope::table::ArchiveSource;

use crate::controls::plant_events;
use crate::detect_cases::{Corpus, TIME, case_id, corpus, correlation_cases, indent};
use crate::report_html::chromium;
use crate::util::{json_lines, samples, stderr, stdout, testdata, trailscope};

pub async fn run_detect(archive: &Path, files: &[(String, String)]) -> (load::RuleSet, Vec<Hit>) {
    let set = load::load(files);
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, Scope::default(), false);
    let outcome = detect::detect(&source.into(), &set.runnable())
        .await
        .unwrap();
    assert!(
        outcome.errors.is_empty(),
        "rules failed: {:?}",
        outcome.errors
    );
    (set, outcome.hits)
}

pub fn hit_ids(hits: &[Hit], rule: &str) -> BTreeSet<String> {
    hits.iter()
        .filter(|h| h.rule_id == rule)
        .flat_map(|h| {
            if h.events.is_empty() {
                vec![h.first.eventid.clone().unwrap_or_default()]
            } else {
                h.events
                    .iter()
                    .map(|e| e.eventid.clone().unwrap_or_default())
                    .collect()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_case_fires_on_its_events_and_not_on_its_near_misses() {
    let dir = tempfile::tempdir().unwrap();
    let Corpus {
        events,
        files,
        expected,
    } = corpus();
    plant_events(dir.path(), &events);
    let (set, hits) = run_detect(dir.path(), &files).await;
    assert!(
        set.failed.is_empty() && set.skipped.is_empty(),
        "{:?} {:?}",
        set.failed,
        set.skipped
    );
    let mut wrong = Vec::new();
    for (rule, want) in &expected {
        let got = hit_ids(&hits, rule);
        if &got != want {
            let sql = set
                .compiled
                .iter()
                .find(|c| c.rule.key() == rule)
                .map(|c| c.sql.clone())
                .unwrap_or_default();
            wrong.push(format!("{rule}: hit {got:?}, expected {want:?}\n{sql}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    // Rules only correlations use report nothing themselves; a correlation is one hit per burst.
    assert!(hits.iter().all(|h| !h.title.starts_with("base ")));
    for (name, _, _) in correlation_cases() {
        let n = hits.iter().filter(|h| h.rule_id == case_id(name)).count();
        assert_eq!(n, 1, "{name}: one burst, one hit");
    }
}

#[test]
fn what_cannot_be_compiled_is_skipped_with_the_reason() {
    let rule = |detection: &str| {
        format!(
            "title: t\nid: x\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{}",
            indent(detection, 2)
        )
    };
    let refused = [
        (
            "sel:\n  eventName|expand: '%names%'\ncondition: sel",
            "expand",
        ),
        (
            "sel:\n  userAgent|re: '(?<=a)b'\ncondition: sel",
            "regex syntax",
        ),
        (
            "sel:\n  userAgent|utf16le|base64: x\ncondition: sel",
            "Windows text encoding",
        ),
        (
            "sel:\n  eventName: A\ncondition: sel | near other",
            "aggregation",
        ),
        (
            "sel:\n  eventName: A\ncondition: missing",
            "does not define",
        ),
        (
            "sel:\n  sourceIPAddress|cidr: 10.0.0.0/33\ncondition: sel",
            "not a network",
        ),
        (
            "sel:\n  eventName|bogus: A\ncondition: sel",
            "not one Sigma defines",
        ),
    ];
    for (detection, why) in refused {
        let set = load::load(&[("r.yml".into(), rule(detection))]);
        assert!(set.compiled.is_empty(), "{detection}");
        assert!(
            set.skipped.len() == 1 && set.skipped[0].1.contains(why),
            "{detection}: {:?}",
            set.skipped
        );
    }
    // Not a rule at all, or not YAML: failed, and a broken file cannot hang the loader.
    let set = load::load(&[
        ("a.yml".into(), "title: t\ndescription: a: b\n".into()),
        ("b.yml".into(), "just: a mapping\n".into()),
        (
            "c.yml".into(),
            rule("sel:\n  eventName: A\ncondition: sel").replace("aws", "windows"),
        ),
    ]);
    assert_eq!(set.failed.len(), 2, "{:?}", set.failed);
    assert_eq!(set.other_sources, 1);
}

/// A detonation file's records: a JSON array, one record, or `{"Records": [...]}`.
fn detonation_records(path: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    match v {
        Value::Array(items) => items,
        Value::Object(ref m) if m.contains_key("Records") => {
            m["Records"].as_array().cloned().unwrap_or_default()
        }
        other => vec![other],
    }
}

/// The Stratus Red Team detonations' records, each technique in an account of its own (so a hit
/// says which detonation it came from), and the technique of each account.
pub fn stratus_events() -> (Vec<Value>, BTreeMap<String, String>) {
    let folder = samples().join("stratus-red-team/detonation-logs");
    let mut techniques: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    techniques.sort();
    assert!(techniques.len() >= 30, "the detonations are vendored");
    let mut events = Vec::new();
    let mut account_of = BTreeMap::new();
    for (n, technique) in techniques.iter().enumerate() {
        let account = format!("{:012}", 100_000_000_000u64 + n as u64);
        account_of.insert(account.clone(), technique.clone());
        for (i, record) in detonation_records(&folder.join(format!("{technique}.json")))
            .into_iter()
            .enumerate()
        {
            let mut r = record.as_object().cloned().unwrap();
            r.insert("recipientAccountId".into(), account.clone().into());
            // The detonations' own ids are anonymised; these say where each record came from.
            r.insert("eventID".into(), format!("{technique}#{i}").into());
            events.push(Value::Object(r));
        }
    }
    (events, account_of)
}

/// Stratus Red Team's documentation address of a technique, as our rules cite it.
const STRATUS: &str = "https://stratus-red-team.cloud/attack-techniques/AWS/";

#[tokio::test(flavor = "multi_thread")]
async fn our_pack_fires_on_the_detonations_it_covers_and_nothing_else() {
    let (events, account_of) = stratus_events();
    let techniques: Vec<&String> = account_of.values().collect();
    let dir = tempfile::tempdir().unwrap();
    plant_events(dir.path(), &events);
    let (set, hits) = run_detect(dir.path(), &load::builtin_files()).await;
    assert!(set.skipped.is_empty() && set.failed.is_empty());
    let mut fired: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for h in &hits {
        let account = h.first.account_id.clone().unwrap_or_default();
        fired
            .entry(h.rule_id.clone())
            .or_default()
            .insert(account_of[&account].clone());
    }
    let mut wrong = Vec::new();
    let mut covered = BTreeSet::new();
    for c in set.runnable() {
        let claimed: BTreeSet<String> = c
            .rule
            .references
            .iter()
            .filter_map(|r| r.strip_prefix(STRATUS))
            .map(|t| t.trim_end_matches('/').to_string())
            .collect();
        covered.extend(claimed.iter().cloned());
        let got = fired.remove(c.rule.key()).unwrap_or_default();
        if got != claimed {
            wrong.push(format!(
                "{}: fired on {got:?}, covers {claimed:?}",
                c.rule.title
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        covered.len() >= 30,
        "our pack covers {} of {} detonations",
        covered.len(),
        techniques.len()
    );
}

#[test]
fn detect_on_the_command_line() {
    let archive = testdata().join("grycap-archive");
    let archive = archive.to_str().unwrap();
    // Our pack finds console sign-ins without MFA in the real archive: exit 1, a timeline.
    let out = trailscope(&["detect", "-a", archive, "--tags", "attack.initial-access"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("Console Sign-in Without MFA"));
    assert!(
        stderr(&out).contains("rules loaded, 0 skipped, 0 failed"),
        "{}",
        stderr(&out)
    );
    // Nothing at or above critical: exit 0.
    let out = trailscope(&["detect", "-a", archive, "--min-level", "critical"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // jsonl carries the author with every hit.
    let out = trailscope(&[
        "detect",
        "-a",
        archive,
        "--format",
        "jsonl",
        "--tags",
        "attack.initial-access",
    ]);
    let first: Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(first["author"], "trailscope");
    assert!(first["log_file"].as_str().unwrap().ends_with(".json.gz"));
    // --show-sql prints what a rule compiles to; it plans as a query of its own.
    let out = trailscope(&[
        "detect",
        "-a",
        archive,
        "--show-sql",
        "Console Sign-in Without MFA",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let sql = stdout(&out);
    assert!(
        sql.contains("json_match(responseelements, 'ConsoleLogin', 'eq', 'success')"),
        "{sql}"
    );
    let out = trailscope(&["query", "-q", "-a", archive, &sql]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A missing rules folder: one line, exit 2.
    let out = trailscope(&["detect", "-a", archive, "--rules", "/no/such/rules"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn our_pack_lints_clean() {
    let set = load::load(&load::builtin_files());
    let problems = detect::lint::lint_rules(&set).await.unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(set.compiled.len() >= 38, "{}", set.summary());
    // A problem is reported: a rule without id and author, and a skipped one.
    let bad = load::load(&[(
        "bad.yml".into(),
        "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: A\n  condition: sel\n---\ntitle: u\nid: u\nauthor: a\nstatus: test\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName|expand: '%x%'\n  condition: sel\n"
            .into(),
    )]);
    let problems = detect::lint::lint_rules(&bad).await.unwrap();
    assert!(
        problems.iter().any(|p| p.contains("has no id")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("has no author")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("skipped: modifier expand")),
        "{problems:?}"
    );
}

#[test]
fn the_html_timeline_renders_and_filters_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("detections.html");
    let archive = testdata().join("grycap-archive");
    let out = trailscope(&[
        "detect",
        "-a",
        archive.to_str().unwrap(),
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let jsonl = trailscope(&[
        "detect",
        "-a",
        archive.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let hits = json_lines(&jsonl);
    let login = hits
        .iter()
        .filter(|h| h["title"] == "Console Sign-in Without MFA")
        .count();
    assert!(login > 0 && login < hits.len());

    // All hits show, one row each, with no console message.
    let run = chromium(&page, &["--dump-dom"]);
    assert!(run.console().is_empty(), "console: {:#?}", run.console());
    let rows = |dom: &str, hidden: bool| {
        dom.split("<tr class=\"hit\"")
            .skip(1)
            .filter(|r| r.split('>').next().unwrap().contains("hidden") == hidden)
            .count()
    };
    assert_eq!(rows(&run.stdout, false), hits.len());
    assert!(
        run.stdout
            .contains(&format!("<span id=\"shown\">{}</span>", hits.len()))
    );

    // The address picks a rule: the script hides every other row and says how many show.
    let rule_id = hits
        .iter()
        .find(|h| h["title"] == "Console Sign-in Without MFA")
        .unwrap()["rule_id"]
        .as_str()
        .unwrap()
        .to_string();
    let filtered = dir.path().join(format!("detections.html#rule={rule_id}"));
    let run = chromium(&filtered, &["--dump-dom"]);
    assert!(run.console().is_empty(), "console: {:#?}", run.console());
    assert_eq!(rows(&run.stdout, false), login);
    assert_eq!(rows(&run.stdout, true), hits.len() - login);
    assert!(
        run.stdout
            .contains(&format!("<span id=\"shown\">{login}</span>"))
    );
    // No level checked: nothing shows.
    let none = dir.path().join("detections.html#level=none");
    let run = chromium(&none, &["--dump-dom"]);
    assert_eq!(rows(&run.stdout, false), 0);
}

#[test]
fn the_report_summarises_the_detections_detect_lists() {
    let dir = tempfile::tempdir().unwrap();
    let archive = testdata().join("archive");
    let archive = archive.to_str().unwrap();
    let snapshot = testdata().join("snapshot-566424620868.json");
    let json = dir.path().join("report.json");
    let period = ["--from", "2026-09-25", "--to", "2026-10-05"];
    // Detections are part of the report by default.
    let mut args = vec!["report", "-a", archive, "-s", snapshot.to_str().unwrap()];
    args.extend(period);
    args.extend(["--format", "json", "-o", json.to_str().unwrap()]);
    let out = trailscope(&args);
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let section = &report["detections"];

    let mut args = vec!["detect", "-a", archive, "--format", "jsonl"];
    args.extend(period);
    let out = trailscope(&args);
    let hits: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    assert!(!hits.is_empty());
    let text = |v: &Value| v.as_str().map(str::to_string);
    // Per rule, detect's hits in its (time) order.
    let mut per_rule: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for h in &hits {
        per_rule
            .entry(text(&h["rule_id"]).unwrap())
            .or_default()
            .push(h);
    }
    let rules = section["by_rule"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        per_rule.len(),
        "one summary per rule that fired"
    );
    assert_eq!(section["detections"].as_u64().unwrap() as usize, hits.len());
    for r in rules {
        let id = text(&r["rule_id"]).unwrap();
        let listed = &per_rule[&id];
        assert_eq!(
            r["detections"].as_u64().unwrap() as usize,
            listed.len(),
            "{id}"
        );
        assert_eq!(
            text(&r["first_seen"]),
            text(&listed[0]["eventtime"]),
            "{id}"
        );
        let last = listed
            .iter()
            .flat_map(|h| match h["events"].as_array() {
                Some(events) => events.iter().map(|e| text(&e["eventtime"])).collect(),
                None => vec![text(&h["eventtime"])],
            })
            .max()
            .unwrap();
        assert_eq!(text(&r["last_seen"]), last, "{id}");
        let principals: BTreeSet<String> = listed
            .iter()
            .flat_map(|h| match h["events"].as_array() {
                Some(events) => events
                    .iter()
                    .filter_map(|e| text(&e["principal"]))
                    .collect(),
                None => text(&h["principal"]).into_iter().collect::<Vec<_>>(),
            })
            .collect();
        assert_eq!(
            r["principals"].as_u64().unwrap() as usize,
            principals.len(),
            "{id}"
        );
        // The evidence is the rule's first hits, with detect's event id and log file.
        let evidence = r["evidence"].as_array().unwrap();
        assert_eq!(evidence.len(), listed.len().min(5), "{id}");
        for (shown, hit) in evidence.iter().zip(listed.iter()) {
            assert_eq!(shown["eventid"], hit["eventid"], "{id}");
            assert_eq!(shown["log_file"], hit["log_file"], "{id}");
            assert!(
                shown["log_file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with(".json.gz"))
            );
        }
    }
    let levels: u64 = section["by_level"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(levels as usize, hits.len());

    // The HTML report shows the section with each rule's evidence and the command listing all.
    let html = dir.path().join("report.html");
    let mut args = vec!["report", "-a", archive];
    args.extend(period);
    args.extend(["-o", html.to_str().unwrap()]);
    trailscope(&args);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"detections\""));
    let first = &rules[0];
    assert!(page.contains(&format!(
        "id=\"det-{}\"",
        first["rule_id"].as_str().unwrap()
    )));
    assert!(page.contains(first["evidence"][0]["eventid"].as_str().unwrap()));
    assert!(page.contains("trailscope detect -a "));
    // Without rules, or asked to leave them out, there is no section.
    for leave_out in ["--no-builtin-rules", "--no-detections"] {
        let mut args = vec!["report", "-a", archive, leave_out, "--format", "json"];
        args.extend(period);
        let out = trailscope(&args);
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert!(report.get("detections").is_none(), "{leave_out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pack_of_a_thousand_rules_runs_in_one_scan() {
    // Suzaku's pack has ~800 CloudTrail rules: their rows ORed n deep once overflowed the stack.
    let files: Vec<(String, String)> = (0..1000)
        .map(|i| {
            (
                format!("r{i}.yml"),
                format!(
                    "title: rule {i}\nid: {}\nauthor: t\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: Event{i}\n    userAgent|contains: agent{i}\n  condition: sel\n",
                    case_id(&format!("many-{i}"))
                ),
            )
        })
        .collect();
    let events: Vec<Value> = [7, 700]
        .iter()
        .map(|i| json!({"eventName": format!("Event{i}"), "userAgent": format!("x agent{i} y"), "eventTime": TIME, "eventID": format!("e{i}")}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    plant_events(dir.path(), &events);
    let (set, hits) = run_detect(dir.path(), &files).await;
    assert_eq!(set.compiled.len(), 1000);
    let mut got: Vec<String> = hits.iter().map(|h| h.title.clone()).collect();
    got.sort();
    assert_eq!(got, ["rule 7", "rule 700"]);
}

#[test]
fn correlations_may_name_their_rules_by_title() {
    // Suzaku's packs refer to correlated rules by title, before the rule itself.
    let text = "title: Many Failed Logins\nid: 68f8de62-97cd-4a9a-afba-7804fddf43d4\nlogsource:\n  product: aws\n  service: cloudtrail\ncorrelation:\n  type: event_count\n  rules:\n    - Failed Console Login\n  group-by:\n    - sourceIPAddress\n  timespan: 5m\n  condition:\n    gte: 3\n---\ntitle: Failed Console Login\nid: 978c15f1-3468-42b2-bf0f-bb29ae6168cc\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    eventName: ConsoleLogin\n  condition: selection\n";
    let set = load::load(&[("suzaku-style.yml".into(), text.into())]);
    assert_eq!(set.compiled.len(), 2, "{:?}", set.skipped);
    let runnable = set.runnable();
    assert_eq!(runnable.len(), 1);
    assert_eq!(runnable[0].rule.title, "Many Failed Logins");
}

#[test]
fn over_a_lake_a_rule_reading_the_raw_record_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, lake, rules) = (
        dir.path().join("archive"),
        dir.path().join("lake"),
        dir.path().join("rules"),
    );
    let events: Vec<Value> = ["CreateUser", "ListUsers", "DeleteUser"]
        .iter()
        .map(|name| json!({"eventName": name, "eventSource": "iam.amazonaws.com", "eventTime": TIME}))
        .collect();
    plant_events(&archive, &events);
    std::fs::create_dir(&rules).unwrap();
    let rule = |title: &str, detection: &str| {
        format!(
            "title: {title}\nid: {}\nauthor: t\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    {detection}\n  condition: selection\nlevel: high\n",
            case_id(title)
        )
    };
    let user_created = rule("User Created", "eventName: CreateUser");
    // A nested field the decoder does not keep: read from the record's text, which a lake lacks.
    let raw_field = rule("Raw Field", "userIdentity.noSuchField: x");
    std::fs::write(rules.join("created.yml"), user_created).unwrap();
    std::fs::write(rules.join("raw.yml"), raw_field).unwrap();
    let (a, l, r) = (
        archive.to_str().unwrap(),
        lake.to_str().unwrap(),
        rules.to_str().unwrap(),
    );
    let out = trailscope(&["convert", "-q", "-a", a, "--lake", l]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let detect = |extra: &[&str]| {
        let mut args = vec!["detect", "-a", a, "--rules", r, "--no-builtin-rules"];
        args.extend(extra);
        args.extend(["--format", "jsonl"]);
        trailscope(&args)
    };

    // Over the raw archive both rules run; the pass keeps only the one event a rule matched.
    let out = detect(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("on 3 events (1 matched a rule)"),
        "{}",
        stderr(&out)
    );

    // Over the lake the raw-field rule cannot run: named, exit 2; the other still reports.
    let out = detect(&["--lake", l]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let hits = json_lines(&out);
    assert_eq!(hits.len(), 1, "{}", stderr(&out));
    assert_eq!(hits[0]["title"], "User Created");
    assert!(
        stderr(&out).contains("rule Raw Field") && stderr(&out).contains("could not run"),
        "{}",
        stderr(&out)
    );
}

/// `detect` evaluates `event_count`, `value_count` and `temporal` windows in one sweep over the
/// matched events; each correlation of our pack must give exactly the hits of its window SQL
/// (what `--show-sql` prints) run over the archive.
#[tokio::test(flavor = "multi_thread")]
async fn correlations_swept_in_one_pass_equal_their_window_sql() {
    let dir = tempfile::tempdir().unwrap();
    let options = trailscope::generate::GenerateOptions {
        days: 1,
        accounts: 1,
        events_per_day: 30_000,
        digests: false,
        ..Default::default()
    };
    trailscope::generate::generate(dir.path(), &options).unwrap();
    let files = load::gather(true, &[]).unwrap();
    let (set, hits) = run_detect(dir.path(), &files).await;
    let location = Location::open(dir.path().to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, Scope::default(), false);
    let ctx = trailscope::table::session(&source).unwrap();
    type Bursts = Vec<(Vec<Option<String>>, BTreeSet<String>)>;
    let mut compared = 0;
    for c in set.runnable().iter().filter(|c| c.stages.is_some()) {
        let batches = ctx.sql(&c.sql).await.unwrap().collect().await.unwrap();
        let mut by_sql: BTreeMap<Vec<Option<String>>, BTreeSet<String>> = BTreeMap::new();
        for batch in &batches {
            let cells = |name: &str| trailscope::output::text_cells(batch, name).unwrap();
            let groups: Vec<_> = (1..=c.group_by.len())
                .map(|i| cells(&format!("group_{i}")))
                .collect();
            let (ids, burst) = (cells("eventid"), cells("burst"));
            for row in 0..batch.num_rows() {
                let mut key: Vec<Option<String>> = groups.iter().map(|g| g[row].clone()).collect();
                key.push(burst[row].clone());
                by_sql
                    .entry(key)
                    .or_default()
                    .insert(ids[row].clone().unwrap_or_default());
            }
        }
        let mut expected: Bursts = by_sql
            .into_iter()
            .map(|(mut key, ids)| {
                key.pop(); // the burst number: hits are told apart by their events
                (key, ids)
            })
            .collect();
        let mut swept: Bursts = hits
            .iter()
            .filter(|h| h.rule_id == c.rule.key())
            .map(|h| {
                let group = h.group.iter().map(|(_, v)| v.clone()).collect();
                let ids = h
                    .events
                    .iter()
                    .map(|e| e.eventid.clone().unwrap_or_default());
                (group, ids.collect())
            })
            .collect();
        expected.sort();
        swept.sort();
        assert_eq!(swept, expected, "{}", c.rule.title);
        compared += expected.len();
    }
    assert!(compared > 10, "only {compared} correlation hits to compare");

    // Matched events past the memory budget go to a temporary Parquet file: the same hits, in
    // the same order, and the file is gone afterwards.
    let spills = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref().is_ok_and(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("trailscope-detect-")
                })
            })
            .count()
    };
    let before = spills();
    let spilled = detect::run::detect_within(&source.clone().into(), &set.runnable(), 0)
        .await
        .unwrap();
    assert!(spilled.errors.is_empty(), "{:?}", spilled.errors);
    assert_eq!(spilled.hits, hits);
    assert!(spilled.spilled && spilled.matched_events > 1000);
    assert_eq!(spills(), before, "the spilled events' folder is removed");
}
