//! Agreement with an independent Sigma implementation: pySigma (PyPI) with its SQLite backend.
//!
//! The test set is every rule of `tests/detect.rs` (each modifier, condition form and
//! correlation) and trailscope's own pack; the records are those cases' events and the Stratus
//! Red Team detonations. trailscope runs the rules over the records planted as an archive;
//! `tests/pysigma/run_rules.py` loads the same records into SQLite (fields flattened to dotted
//! columns, as pySigma users load CloudTrail) and runs pySigma's queries. Every rule's matched
//! eventIDs are compared.
//!
//! `tests/fixtures/sigma-agreement.json` lists each disagreement (which events only one side
//! matched, or pySigma's error) with the reason. The test fails when a disagreement appears,
//! disappears or changes, on either side. `SIGMA_AGREEMENT_BLESS=1` rewrites the fixture from
//! what was observed, keeping the reasons written; a new disagreement gets "TODO", which fails
//! until explained. pySigma must be installed (`.ci/run` installs the pinned versions).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trailscope::detect::load;

use crate::controls::{complete, plant_events};
use crate::detect::{hit_ids, run_detect, stratus_events};
use crate::detect_cases::{Corpus, corpus};

const FIXTURE: &str = "tests/fixtures/sigma-agreement.json";
const BLESS: &str = "SIGMA_AGREEMENT_BLESS";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Disagreement {
    rule: String,
    title: String,
    only_trailscope: BTreeSet<String>,
    only_pysigma: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pysigma_error: Option<String>,
    #[serde(default)]
    reason: String,
}

impl Disagreement {
    fn key(&self) -> (String, BTreeSet<String>, BTreeSet<String>, Option<String>) {
        (
            self.rule.clone(),
            self.only_trailscope.clone(),
            self.only_pysigma.clone(),
            self.pysigma_error.clone(),
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Fixture {
    about: String,
    rules_compared: usize,
    rules_agreeing: usize,
    disagreements: Vec<Disagreement>,
}

fn pysigma(records: &Path, rules: &[std::path::PathBuf]) -> BTreeMap<String, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pysigma/run_rules.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(records)
        .args(rules)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pySigma's run failed (is it installed? pip install 'pysigma==2.0.1' 'pysigma-backend-sqlite==2.1.1'):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pySigma's run prints JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_agree_with_pysigma_or_the_difference_is_explained() {
    let Corpus {
        mut events,
        mut files,
        ..
    } = corpus();
    events.extend(stratus_events().0);
    files.extend(load::builtin_files());
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    plant_events(&archive, &events);
    let (set, hits) = run_detect(&archive, &files).await;

    // The same records, completed as the archive holds them, and the same rule files.
    let records = dir.path().join("records.jsonl");
    let lines: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(n, e)| complete(e, n).to_string())
        .collect();
    std::fs::write(&records, lines.join("\n")).unwrap();
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    let rule_paths: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            let path = rules_dir.join(format!("{i:03}.yml"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let theirs = pysigma(&records, &rule_paths);

    let mut observed = Vec::new();
    let mut compared = 0;
    for c in set.runnable() {
        let key = c.rule.key().to_string();
        compared += 1;
        let ours = hit_ids(&hits, &key);
        let (their_ids, error) = match theirs.get(&key) {
            Some(v) if v.get("ids").is_some() => (
                v["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap_or_default().to_string())
                    .collect::<BTreeSet<String>>(),
                None,
            ),
            Some(v) => (
                BTreeSet::new(),
                Some(v["error"].as_str().unwrap_or_default().to_string()),
            ),
            None => (
                BTreeSet::new(),
                Some("pySigma did not report the rule".to_string()),
            ),
        };
        if ours != their_ids || error.is_some() {
            observed.push(Disagreement {
                rule: key,
                title: c.rule.title.clone(),
                only_trailscope: ours.difference(&their_ids).cloned().collect(),
                only_pysigma: their_ids.difference(&ours).cloned().collect(),
                pysigma_error: error,
                reason: String::new(),
            });
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let fixture: Option<Fixture> = std::fs::read(&path)
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("the fixture is JSON"));
    let reasons: BTreeMap<_, String> = fixture
        .iter()
        .flat_map(|f| f.disagreements.iter())
        .map(|d| (d.rule.clone(), d.reason.clone()))
        .collect();
    for d in &mut observed {
        d.reason = reasons
            .get(&d.rule)
            .cloned()
            .unwrap_or_else(|| "TODO".to_string());
    }
    if std::env::var_os(BLESS).is_some() {
        let fixture = Fixture {
            about: "Rules of tests/detect.rs and queries/detections/ run by trailscope and by pySigma's SQLite backend over the same records (tests/sigma_agreement.rs); each disagreement with its reason.".into(),
            rules_compared: compared,
            rules_agreeing: compared - observed.len(),
            disagreements: observed.clone(),
        };
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&fixture).unwrap() + "\n",
        )
        .unwrap();
    }
    let fixture = fixture
        .expect("tests/fixtures/sigma-agreement.json exists (SIGMA_AGREEMENT_BLESS=1 writes it)");
    let expected: BTreeSet<_> = fixture
        .disagreements
        .iter()
        .map(Disagreement::key)
        .collect();
    let got: BTreeSet<_> = observed.iter().map(Disagreement::key).collect();
    let new: Vec<_> = got.difference(&expected).collect();
    let gone: Vec<_> = expected.difference(&got).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "agreement with pySigma changed (SIGMA_AGREEMENT_BLESS=1 rewrites the fixture; explain new reasons):\nnew: {new:#?}\ngone: {gone:#?}"
    );
    assert_eq!(fixture.rules_compared, compared, "rules compared");
    let unexplained: Vec<_> = observed
        .iter()
        .filter(|d| d.reason.trim().is_empty() || d.reason == "TODO")
        .map(|d| &d.title)
        .collect();
    assert!(
        unexplained.is_empty(),
        "disagreements without a reason: {unexplained:?}"
    );
}
