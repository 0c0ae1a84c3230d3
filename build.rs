//! Embeds the built-in controls (`queries/controls/**/<ID>.sql` + `<ID>.json`) and detection rules
//! (`queries/detections/**/*.yml`) in the binary,
//! the shared views under `queries/views/` and the report's queries under `queries/report/`, so
//! `trailscope check` and `report` work wherever the binary is copied.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    walk_ext(dir, "sql", out);
}

fn walk_ext(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // A new control in an area folder changes that folder, not the root.
            println!("cargo:rerun-if-changed={}", path.display());
            walk_ext(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// The package being built, as Cargo says when it runs this script. (`env!` would bake in where
/// the script was compiled, and Cargo may reuse a compiled script for a checkout elsewhere.)
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
}

/// `queries/<folder>/<name>.sql` as `&[(name, sql)]`: the shared views the controls build on, or
/// the report's queries.
fn named_queries(folder: &str) -> String {
    let root = manifest_dir().join("queries").join(folder);
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut code = String::from("&[\n");
    for sql in &files {
        println!("cargo:rerun-if-changed={}", sql.display());
        let name = sql.file_stem().unwrap_or_default().to_string_lossy();
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            sql.display().to_string()
        ));
    }
    code.push_str("]\n");
    code
}

/// Links the `trailscope` binary as a position-dependent executable on Linux with glibc. As a
/// PIE, the loader applied about 300,000 relocations to it on every start, copying 5 MB of
/// pointers into private pages: 3-4 ms of each run, a seventh of a one-day lake query
/// (docs/benchmarks.md). The executable's own code then loads at a fixed address; shared
/// libraries, heap and stacks stay randomised. Building with `TRAILSCOPE_PIE=1` keeps a PIE, for
/// distributions whose policy requires one.
fn link_position_dependent() {
    println!("cargo:rerun-if-env-changed=TRAILSCOPE_PIE");
    let target = |key: &str| std::env::var(key).unwrap_or_default();
    if target("CARGO_CFG_TARGET_OS") == "linux"
        && target("CARGO_CFG_TARGET_ENV") == "gnu"
        && std::env::var_os("TRAILSCOPE_PIE").is_none()
    {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

fn main() {
    link_position_dependent();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    for (folder, file) in [
        ("views", "builtin_views.rs"),
        ("report", "report_queries.rs"),
    ] {
        if let Err(e) = std::fs::write(out_dir.join(file), named_queries(folder)) {
            panic!("writing {file}: {e}");
        }
    }
    let detections = manifest_dir().join("queries/detections");
    println!("cargo:rerun-if-changed={}", detections.display());
    let mut rules = Vec::new();
    walk_ext(&detections, "yml", &mut rules);
    rules.sort();
    let mut code = String::from("&[\n");
    for rule in &rules {
        println!("cargo:rerun-if-changed={}", rule.display());
        let rel = rule.strip_prefix(&detections).unwrap_or(rule);
        code.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            rel.display().to_string(),
            rule.display().to_string()
        ));
    }
    code.push_str("]\n");
    if let Err(e) = std::fs::write(out_dir.join("builtin_detections.rs"), code) {
        panic!("writing builtin_detections.rs: {e}");
    }
    let root = manifest_dir().join("queries/controls");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut code = String::from("&[\n");
    for sql in &files {
        println!("cargo:rerun-if-changed={}", sql.display());
        let meta = sql.with_extension("json");
        println!("cargo:rerun-if-changed={}", meta.display());
        if !meta.exists() {
            // `trailscope lint` and the catalog test name it; the build need not fail for it.
            println!(
                "cargo:warning={} has no metadata beside it: not embedded",
                sql.display()
            );
            continue;
        }
        let rel = sql.strip_prefix(&root).unwrap_or(sql);
        code.push_str(&format!(
            "    ({:?}, include_str!({:?}), include_str!({:?})),\n",
            rel.display().to_string(),
            sql.display().to_string(),
            meta.display().to_string()
        ));
    }
    code.push_str("]\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin_controls.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
