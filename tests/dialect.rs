//! The queries users already have: Athena and CloudTrail Lake SQL, in the shape users publish
//! it, run unchanged (but for the table name) against the vendored grycap archive.
//!
//! Each `tests/dialect/*.sql` names the public source where its constructs are used. Queries
//! that do not run yet are listed in `tests/dialect/PENDING`; the test fails when a listed one
//! starts to run, so the list only shrinks.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::util::{grycap, stderr, trailscope};

fn dialect_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dialect")
}

fn pending() -> BTreeSet<String> {
    std::fs::read_to_string(dialect_dir().join("PENDING"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn published_athena_and_lake_queries_run_unchanged() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dialect_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 80, "only {} dialect queries", files.len());
    let pending = pending();
    let names: BTreeSet<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let stale: Vec<_> = pending.difference(&names).collect();
    assert!(
        stale.is_empty(),
        "PENDING names files that do not exist: {stale:?}"
    );

    let archive = grycap();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).unwrap();
        for header in [
            "-- dialect: ",
            "-- source: http",
            "-- construct: ",
            "-- answer: ",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(header)),
                "{name}: no `{header}` line"
            );
        }
        let out = trailscope(&[
            "query",
            "-q",
            "-a",
            archive.to_str().unwrap(),
            "--format",
            "csv",
            "-f",
            file.to_str().unwrap(),
        ]);
        match (out.status.success(), pending.contains(&name)) {
            (true, true) => failures.push(format!("{name} runs now: take it off PENDING")),
            (false, false) => failures.push(format!("{name}: {}", stderr(&out).trim())),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
