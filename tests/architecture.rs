//! The library's modules depend only downward; the command line belongs to the binary.
//!
//! Every `crate::X` path in `src/` (in `use` lines, grouped imports and inline paths) is an edge
//! from the file's top module to `X`. An edge must point to a lower layer: a new dependency that
//! points back up fails here, naming the file and the edge.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use modules of lower layers only (not its siblings).
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["time", "output"],
    &["archive"],
    &["decode"],
    &["generate"],
    &["lake", "integrity", "snapshot", "lineage", "enrich"],
    &["table"],
    &["controls", "detect", "cluster", "trace"],
    &["report"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level modules a Rust source names with `crate::`.
fn crate_edges(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = source;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `my_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c::{d, e}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            out.extend(first_segment(&item));
        } else {
            out.extend(first_segment(rest));
        }
    }
    out
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    match name.as_str() {
        "" | "self" => None,
        _ => Some(root_reexports().get(&name).cloned().unwrap_or(name)),
    }
}

/// Names lib.rs re-exports at the crate root (`pub use error::{Error, Result};`), with the
/// module each comes from: `crate::Error` is an edge to `error`.
fn root_reexports() -> &'static std::collections::HashMap<String, String> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<String, String>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
            .unwrap();
        let mut map = std::collections::HashMap::new();
        for line in lib.lines() {
            let Some(rest) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let rest = rest.trim_end_matches(';');
            let Some((module, names)) = rest.split_once("::") else {
                continue;
            };
            for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
                let name = name.trim();
                if !name.is_empty() {
                    map.insert(name.to_string(), module.to_string());
                }
            }
        }
        map
    })
}

/// Edges that point up or sideways: (file, from, to).
fn back_edges(files: &[(String, String)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (file, source) in files {
        let Some(from) = top_module(file) else {
            continue;
        };
        for to in crate_edges(source) {
            if to == from {
                continue;
            }
            match (layer(&from), layer(&to)) {
                (Some(a), Some(b)) if b < a => {}
                _ => bad.push(format!("{file}: {from} -> {to}")),
            }
        }
    }
    bad
}

/// `table/scan.rs` → `table`; `time.rs` → `time`; the crate root and the binary have none.
fn top_module(file: &str) -> Option<String> {
    let first = file.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "cli")).then(|| name.to_string())
}

fn library_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

#[test]
fn library_modules_depend_only_downward() {
    let files = library_sources();
    for (file, _) in &files {
        if let Some(module) = top_module(file) {
            assert!(
                layer(&module).is_some(),
                "{file}: module `{module}` has no layer in tests/architecture.rs: add it to LAYERS"
            );
        }
    }
    let bad = back_edges(&files);
    assert!(
        bad.is_empty(),
        "edges that point back up:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_command_line_is_the_binarys_own() {
    let files = library_sources();
    let lib = &files.iter().find(|(f, _)| f == "lib.rs").unwrap().1;
    assert!(!lib.contains("mod cli"), "lib.rs declares the cli module");
    for (file, source) in &files {
        if top_module(file).is_some() {
            assert!(
                !crate_edges(source).contains("cli") && !source.contains("clap::"),
                "{file}: library code uses the command line (cli or clap)"
            );
        }
    }
    let main = &files.iter().find(|(f, _)| f == "main.rs").unwrap().1;
    assert!(main.contains("mod cli;"));
}

#[test]
fn a_back_edge_is_caught_in_every_spelling() {
    let file = |path: &str, source: &str| vec![(path.to_string(), source.to_string())];
    assert_eq!(
        back_edges(&file(
            "archive/listing.rs",
            "use crate::table::scan::CloudTrailExec;"
        )),
        ["archive/listing.rs: archive -> table"]
    );
    assert_eq!(
        back_edges(&file(
            "decode/mod.rs",
            "use crate::{error::Result, lake::{Lake, LakeSnapshot}};"
        )),
        ["decode/mod.rs: decode -> lake"]
    );
    assert_eq!(
        back_edges(&file(
            "integrity/gaps/mod.rs",
            "let s = crate::table::session(&x);"
        )),
        ["integrity/gaps/mod.rs: integrity -> table"]
    );
    // Siblings of one layer do not use each other.
    assert_eq!(
        back_edges(&file("lake/convert.rs", "use crate::integrity::digest;")),
        ["lake/convert.rs: lake -> integrity"]
    );
    // Downward edges, the crate-root re-exports and other crates' paths pass.
    assert!(
        back_edges(&file(
            "table/mod.rs",
            "use crate::{Error, archive::Scope};\nuse crate::lake::LakeSnapshot; use my_crate::x;\n\
             let e = crate::Input::Lake;"
        ))
        .is_empty()
    );
}
