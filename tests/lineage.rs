//! Identity lineage: every event traced to its origin, checked against the generator's own record
//! of who did what (`--identity-chains`), and on real records (Stratus Red Team, grycap).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use trailscope::archive::{Location, S3Options, Scope};
use trailscope::generate::{GenerateOptions, IDENTITY_CHAINS_FILE, generate};
use trailscope::lineage::{Lineage, OriginKind};
use trailscope::table::{self, ArchiveSource};
use trailscope::trace::read;

use crate::controls::plant_events;
use crate::report_html::chromium;
use crate::util::{samples, stderr, stdout, testdata, trailscope};

async fn session(archive: &Path) -> datafusion::prelude::SessionContext {
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    table::session(ArchiveSource::new(location, Scope::default(), false)).unwrap()
}

fn chains(dir: &Path, accounts: u32) -> Value {
    let opts = GenerateOptions {
        days: 2,
        accounts,
        events_per_day: 400,
        identity_chains: true,
        ..GenerateOptions::default()
    };
    generate(dir, &opts).unwrap();
    serde_json::from_slice(&std::fs::read(dir.join(IDENTITY_CHAINS_FILE)).unwrap()).unwrap()
}

/// A query's result as the table `query` prints.
async fn pretty(ctx: &datafusion::prelude::SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}

/// `trailscope trace -a ARCHIVE --access-key KEY --format json`, read.
fn trace_json(archive: &str, key: &str) -> Value {
    let out = trailscope(&[
        "trace",
        "-a",
        archive,
        "--access-key",
        key,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The long-term key of the generator's leaked-key scenario.
fn leaked_key(truth: &Value) -> String {
    truth["events"]
        .as_object()
        .unwrap()
        .values()
        .find(|o| o["scenario"] == "leaked-key-chain")
        .unwrap()["access_key"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_scripted_event_is_traced_to_its_true_origin() {
    let dir = tempfile::tempdir().unwrap();
    let truth = chains(dir.path(), 3);
    let expected = truth["events"].as_object().unwrap();
    let scenarios: BTreeSet<&str> = expected
        .values()
        .map(|o| o["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(scenarios.len(), 6, "{scenarios:?}");

    let ctx = session(dir.path()).await;
    let lineage = Lineage::new(read::credentials(&ctx).await.unwrap());
    let ids: BTreeSet<String> = expected.keys().cloned().collect();
    let found = read::identities(&ctx, &ids).await.unwrap();
    assert_eq!(
        found.len(),
        ids.len(),
        "every scripted event is in the archive"
    );
    let mut wrong = Vec::new();
    for (id, identity) in &found {
        let want = &expected[id];
        let got = lineage.event_origin(identity);
        let kind = got.kind.as_str();
        let ok = if want["kind"] == "unknown" {
            // Never a guess: no origin key, and the reason says the issuing call is missing.
            got.kind == OriginKind::Unknown
                && got.access_key.is_none()
                && got
                    .broken
                    .as_deref()
                    .is_some_and(|b| b.contains("no issuing event"))
        } else {
            want["kind"] == kind
                && want["principal"].as_str() == got.principal.as_deref()
                && want["access_key"].as_str() == got.access_key.as_deref()
                && want["depth"].as_u64() == Some(got.depth as u64)
                && got.broken.is_none()
        };
        if !ok {
            wrong.push(format!(
                "{id} ({}): want {want}, got {got:?}",
                want["scenario"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The leaked key's chain runs through all three accounts, four deep.
    let deepest = found
        .iter()
        .map(|(_, identity)| lineage.event_origin(identity))
        .filter(|o| o.kind == OriginKind::LongTermKey)
        .max_by_key(|o| o.depth)
        .unwrap();
    assert_eq!(deepest.depth, 4);
    let accounts: BTreeSet<String> = deepest
        .chain
        .iter()
        .filter_map(|l| Some(l.session_arn.as_ref()?.split(':').nth(4)?.to_string()))
        .collect();
    assert_eq!(accounts.len(), 3, "{accounts:?}");

    // The tables answer SQL, filters and all: one Identity Center session, used three times.
    let rows = pretty(
        &ctx,
        "SELECT session_name, events FROM sessions WHERE issued_via = 'IdentityCenter'",
    )
    .await;
    assert!(rows.contains("| bob@example.com | 3      |"), "{rows}");

    // As SQL: every event of the leaked key's chain joins to the same origin key.
    let leaked = deepest.access_key.clone().unwrap();
    let rows = pretty(&ctx, &format!(
            "SELECT count(*) AS events, count(DISTINCT o.chain_depth) AS depths, max(cardinality(o.chain)) AS longest \
             FROM cloudtrail c JOIN credential_origins o ON o.access_key_id = c.useridentity.accesskeyid \
             WHERE o.origin_access_key = '{leaked}'"
        )).await;
    let chain_events = expected
        .values()
        .filter(|o| o["access_key"] == leaked.as_str())
        .count();
    // The role accounts' copies of the AssumeRole calls name no key, so they do not join.
    let copies = found
        .iter()
        .filter(|(id, identity)| {
            identity.identity_type.as_deref() == Some("AWSAccount")
                && expected[id]["access_key"] == leaked.as_str()
        })
        .count();
    assert_eq!(copies, 4, "one copy per cross-account hop");
    assert!(
        rows.contains(&format!("| {} ", chain_events - copies)),
        "{rows}"
    );
    assert!(rows.contains("| 5      | 4       |"), "{rows}");

    // Every issued credential's issuer key and depth are the generator's.
    for (key, pair) in truth["credentials"].as_object().unwrap() {
        let c = lineage
            .get(key)
            .unwrap_or_else(|| panic!("{key} is in issued_credentials"));
        assert_eq!(c.issuer_access_key.as_deref(), pair[0].as_str(), "{key}");
        assert_eq!(
            lineage.origin(key).depth as u64,
            pair[1].as_u64().unwrap(),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_past_its_memory_budget_reads_again_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let truth = chains(dir.path(), 3);
    let leaked = leaked_key(&truth);
    let location = Location::open(dir.path().to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source: trailscope::table::TableSource =
        ArchiveSource::new(location, Scope::default(), false).into();
    for start in [
        trailscope::trace::Start::AccessKey(leaked),
        trailscope::trace::Start::Principal(format!(
            "arn:aws:iam::{}:role/GitHubActions",
            // The pipeline's role is in the first account, the leaked key's user's.
            truth["events"]
                .as_object()
                .unwrap()
                .values()
                .find(|o| o["scenario"] == "leaked-key-chain")
                .and_then(|o| o["principal"].as_str()?.split(':').nth(4))
                .unwrap()
        )),
    ] {
        let one_pass = trailscope::trace::trace(&source, &start).await.unwrap();
        let two_scans = trailscope::trace::trace_within(&source, &start, 1)
            .await
            .unwrap();
        assert!(!one_pass.actions.is_empty(), "{start:?}");
        assert_eq!(one_pass.actions, two_scans.actions, "{start:?}");
        assert_eq!(one_pass.credentials, two_scans.credentials, "{start:?}");
        assert_eq!(one_pass.summary, two_scans.summary, "{start:?}");
    }
}

#[test]
fn trace_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let truth = chains(dir.path(), 3);
    let a = dir.path().to_str().unwrap();
    let leaked = leaked_key(&truth);

    // The blast radius of the leaked key: its four derived credentials, what they did, where.
    let traced = trace_json(a, &leaked);
    let depths: Vec<u64> = traced["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["depth"].as_u64().unwrap())
        .collect();
    assert_eq!(depths, [1, 2, 3, 4]);
    assert_eq!(
        traced["summary"]["by_account"].as_object().unwrap().len(),
        3
    );
    assert_eq!(traced["origin"]["kind"], "long-term-key");
    assert!(
        traced["origin"]["principal"]
            .as_str()
            .unwrap()
            .ends_with(":user/ci-deployer")
    );
    let actions = traced["actions"].as_array().unwrap();
    assert!(
        actions
            .iter()
            .all(|a| a["sourceipaddress"] == "185.220.101.47")
    );
    assert!(
        actions
            .iter()
            .all(|a| a["log_file"].as_str().unwrap().ends_with(".json.gz"))
    );
    // Credentials never appear: no session token anywhere in the trace.
    assert!(!traced.to_string().contains("sessionToken"));

    // jsonl: one event per line, the same events.
    let out = trailscope(&[
        "trace",
        "-a",
        a,
        "--access-key",
        &leaked,
        "--format",
        "jsonl",
    ]);
    assert_eq!(stdout(&out).lines().count(), actions.len());

    // From an event of the broken scenario: the chain is broken, and says why.
    let broken = truth["events"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, o)| o["scenario"] == "issued-before-the-archive")
        .unwrap()
        .0
        .clone();
    let out = trailscope(&["trace", "-a", a, "--event", &broken]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("the chain is broken: ASIA"),
        "{}",
        stdout(&out)
    );

    // A role: its sessions, what they issued (the deploy role), and what was done.
    let user_account = traced["origin"]["principal"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(4)
        .unwrap();
    let role = format!("arn:aws:iam::{user_account}:role/GitHubActions");
    let out = trailscope(&["trace", "-a", a, "--principal", &role, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let by_role: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let issued: Vec<&str> = by_role["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["credential"]["issued_via"].as_str().unwrap())
        .collect();
    assert_eq!(issued, ["AssumeRoleWithWebIdentity", "AssumeRole"]);
    // The table for people names the origin and the tree.
    let out = trailscope(&["trace", "-a", a, "--access-key", &leaked]);
    assert!(stdout(&out).contains("Origin: long-term-key arn:aws:iam::"));

    // Bad input: one line, exit 2.
    for args in [
        vec!["trace", "-a", a, "--access-key", "not a key"],
        vec!["trace", "-a", a, "--event", "no-such-event"],
    ] {
        let out = trailscope(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn real_records_resolve_as_far_as_they_allow() {
    // Stratus Red Team's federation-token detonation: a user's key issues a federated session.
    let folder = samples().join("stratus-red-team/detonation-logs");
    let mut events = Vec::new();
    for technique in [
        "aws.persistence.sts-federation-token",
        "aws.credential-access.ec2-steal-instance-credentials",
    ] {
        let records: Value = serde_json::from_slice(
            &std::fs::read(folder.join(format!("{technique}.json"))).unwrap(),
        )
        .unwrap();
        events.extend(records.as_array().unwrap().iter().cloned());
    }
    let dir = tempfile::tempdir().unwrap();
    plant_events(dir.path(), &events);
    let ctx = session(dir.path()).await;
    let lineage = Lineage::new(read::credentials(&ctx).await.unwrap());
    let federated = events
        .iter()
        .find(|e| e["userIdentity"]["type"] == "FederatedUser")
        .unwrap();
    let ids = BTreeSet::from([federated["eventID"].as_str().unwrap().to_string()]);
    let found = read::identities(&ctx, &ids).await.unwrap();
    let origin = lineage.event_origin(&found[0].1);
    assert_eq!(origin.kind, OriginKind::LongTermKey);
    assert_eq!(origin.depth, 1);
    assert_eq!(origin.chain[0].issued_via, "GetFederationToken");
    assert!(
        origin
            .principal
            .unwrap()
            .ends_with(":user/stratus-red-team-user-federation-user")
    );
    // The stolen instance credentials were delivered before the detonation's records begin.
    let stolen = events
        .iter()
        .find(|e| e["userIdentity"]["sessionContext"]["ec2RoleDelivery"].is_string())
        .unwrap();
    let ids = BTreeSet::from([stolen["eventID"].as_str().unwrap().to_string()]);
    let found = read::identities(&ctx, &ids).await.unwrap();
    let origin = lineage.event_origin(&found[0].1);
    assert_eq!(origin.kind, OriginKind::Unknown);
    assert!(origin.broken.unwrap().contains("no issuing event"));

    // The grycap archive: services' role deliveries and a root console sign-in.
    let ctx = session(&testdata().join("grycap-archive")).await;
    let credentials = read::credentials(&ctx).await.unwrap();
    let by_via: BTreeMap<String, usize> = credentials.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.issued_via.clone()).or_default() += 1;
        m
    });
    assert_eq!(by_via.get("ConsoleSignIn"), Some(&1), "{by_via:?}");
    assert!(by_via.get("EC2InstanceRole").is_some_and(|n| *n > 0));
    let lineage = Lineage::new(credentials.clone());
    let root = credentials
        .iter()
        .find(|c| c.issued_via == "ConsoleSignIn")
        .unwrap();
    assert_eq!(
        lineage.origin(&root.access_key_id).kind,
        OriginKind::ConsoleSignIn
    );
    let lambda = credentials
        .iter()
        .find(|c| c.issued_via == "LambdaRole")
        .unwrap();
    let origin = lineage.origin(&lambda.access_key_id);
    assert_eq!(
        (origin.kind, origin.principal.as_deref()),
        (OriginKind::AwsService, Some("lambda.amazonaws.com"))
    );
}

#[test]
fn the_trace_page_renders_and_filters_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let truth = chains(&archive, 3);
    let a = archive.to_str().unwrap();
    let leaked = leaked_key(&truth);
    let traced = trace_json(a, &leaked);
    let page = dir.path().join("trace.html");
    let out = trailscope(&[
        "trace",
        "-a",
        a,
        "--access-key",
        &leaked,
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let rows = |dom: &str, hidden: bool| {
        dom.split("<tr class=\"event\"")
            .skip(1)
            .filter(|r| r.split('>').next().unwrap().contains("hidden") == hidden)
            .count()
    };
    let all = traced["actions"].as_array().unwrap().len();
    let run = chromium(&page, &["--dump-dom"]);
    assert!(run.console().is_empty(), "console: {:#?}", run.console());
    assert_eq!(rows(&run.stdout, false), all);
    // The tree: the key and its four descendants, each nested under its issuer.
    assert_eq!(run.stdout.matches("<a class=\"key\"").count(), 5);
    assert!(run.stdout.contains("data-kind=\"long-term-key\""));

    // Picking the second credential shows its events and those of what it issued, nothing else.
    let credentials = traced["credentials"].as_array().unwrap();
    let below: BTreeSet<&str> = credentials
        .iter()
        .filter(|c| c["depth"].as_u64().unwrap() >= 2)
        .map(|c| c["credential"]["access_key_id"].as_str().unwrap())
        .collect();
    let second =
        credentials.iter().find(|c| c["depth"] == 2).unwrap()["credential"]["access_key_id"]
            .as_str()
            .unwrap();
    let expected = traced["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| below.contains(e["access_key_id"].as_str().unwrap()))
        .count();
    assert!(expected > 0 && expected < all);
    let run = chromium(
        &dir.path().join(format!("trace.html#key={second}")),
        &["--dump-dom"],
    );
    assert!(run.console().is_empty(), "console: {:#?}", run.console());
    assert_eq!(rows(&run.stdout, false), expected);
    assert_eq!(rows(&run.stdout, true), all - expected);
    assert!(
        run.stdout
            .contains(&format!("<span id=\"shown\">{expected}</span>"))
    );
}
