//! The binary: formats, exit codes, read-only policy, clear errors.

use crate::util::{grycap, stderr, stdout, trailscope};

fn grycap_arg() -> String {
    grycap().to_str().unwrap().to_string()
}

#[test]
fn formats_carry_the_same_rows() {
    let a = grycap_arg();
    let sql = "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventname LIKE 'Delete%' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3";
    let csv = trailscope(&["query", "-q", "-a", &a, "--format", "csv", sql]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let csv = stdout(&csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "eventname,n");
    assert_eq!(lines.len(), 4);
    let ndjson = stdout(&trailscope(&[
        "query", "-q", "-a", &a, "--format", "ndjson", sql,
    ]));
    let first: serde_json::Value = serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
    assert_eq!(
        format!("{},{}", first["eventname"].as_str().unwrap(), first["n"]),
        lines[1]
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&trailscope(&[
        "query", "-q", "-a", &a, "--format", "json", sql,
    ])))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    let table = stdout(&trailscope(&["query", "-q", "-a", &a, sql]));
    assert!(table.contains(lines[1].split(',').next().unwrap()) && table.contains('|'));
}

#[test]
fn nested_columns_in_csv_and_parquet_output() {
    let a = grycap_arg();
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT useridentity, resources FROM cloudtrail WHERE resources IS NOT NULL LIMIT 5";
    let csv = trailscope(&["query", "-q", "-a", &a, "--format", "csv", sql]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    assert!(stdout(&csv).contains("arn"), "{}", stdout(&csv));
    let out = dir.path().join("r.parquet");
    let p = trailscope(&[
        "query",
        "-q",
        "-a",
        &a,
        "--format",
        "parquet",
        "-o",
        out.to_str().unwrap(),
        sql,
    ]);
    assert!(p.status.success(), "{}", stderr(&p));
    let file = std::fs::File::open(&out).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let n: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n, 5);
    let refused = trailscope(&["query", "-a", &a, "--format", "parquet", sql]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("needs -o FILE"));
}

#[test]
fn sql_from_file_and_stdin() {
    let a = grycap_arg();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("q.sql");
    std::fs::write(
        &f,
        "SELECT count(*) AS n FROM cloudtrail WHERE region = 'sa-east-1';",
    )
    .unwrap();
    let out = trailscope(&[
        "query",
        "-q",
        "-a",
        &a,
        "--format",
        "csv",
        "-f",
        f.to_str().unwrap(),
    ]);
    let from_file = stdout(&out);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args(["query", "-q", "-a", &a, "--format", "csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(std::fs::read(&f).unwrap().as_slice())
        .unwrap();
    let from_stdin = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(from_file, from_stdin);
    assert!(from_file.starts_with("n\n"), "{from_file}");
}

#[test]
fn writes_are_refused_and_the_archive_is_never_a_target() {
    let a = grycap_arg();
    let copy = trailscope(&[
        "query",
        "-a",
        &a,
        "COPY (SELECT 1) TO '/tmp/trailscope-x.csv'",
    ]);
    assert_eq!(copy.status.code(), Some(2));
    assert!(stderr(&copy).contains("refused"), "{}", stderr(&copy));
    let insert = trailscope(&["query", "-a", &a, "INSERT INTO log_files VALUES (1)"]);
    assert_eq!(insert.status.code(), Some(2));
    let inside = format!("{a}/AWSLogs/out.csv");
    let o = trailscope(&[
        "query", "-a", &a, "--format", "csv", "-o", &inside, "SELECT 1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("never alters evidence"),
        "{}",
        stderr(&o)
    );
    assert!(!std::path::Path::new(&inside).exists());
}

/// `-a ./arch --allow-write arch/x.csv`: the same directory spelled two ways is still the
/// archive, and a sibling whose name starts the same is not.
#[test]
fn allow_write_inside_the_archive_is_refused_however_it_is_spelled() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("arch");
    std::fs::create_dir_all(&arch).unwrap();
    crate::util::copy_tree(&grycap(), &arch);
    let run = |dest: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
            .current_dir(dir.path())
            .args(["query", "-q", "-a", "./arch", "--allow-write", dest])
            .arg(format!("COPY (SELECT 1 AS n) TO '{dest}'"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    for dest in [
        "arch/x.csv",
        "./arch/AWSLogs/x.csv",
        "elsewhere/../arch/x.csv",
    ] {
        let o = run(dest);
        assert_eq!(o.status.code(), Some(2), "{dest}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("never alters evidence"),
            "{dest}: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
    assert!(!arch.join("x.csv").exists() && !arch.join("AWSLogs/x.csv").exists());
    // `-o` through a symlink: to a log file of the archive, and to a file not there yet.
    #[cfg(unix)]
    {
        let log = crate::util::keys_under(&arch)
            .into_iter()
            .find(|k| k.ends_with(".json.gz"))
            .unwrap();
        let before = std::fs::read(arch.join(&log)).unwrap();
        std::os::unix::fs::symlink(arch.join(&log), dir.path().join("out.csv")).unwrap();
        std::os::unix::fs::symlink(arch.join("AWSLogs/new.csv"), dir.path().join("new.csv"))
            .unwrap();
        for out in ["out.csv", "new.csv"] {
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
                .current_dir(dir.path())
                .args(["query", "-q", "-a", "./arch", "-o", out, "SELECT 1"])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2), "{out}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("never alters evidence"),
                "{}",
                stderr(&o)
            );
        }
        assert_eq!(std::fs::read(arch.join(&log)).unwrap(), before);
        assert!(!arch.join("AWSLogs/new.csv").exists());
    }
    // Beside the archive, not in it: written.
    let o = run("arch-out.csv");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.path().join("arch-out.csv").exists());
}

#[test]
fn an_unknown_param_is_an_error_naming_the_known_ones() {
    let a = grycap_arg();
    let o = trailscope(&["check", "-q", "-a", &a, "--param", "bulk_delete_treshold=5"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bulk_delete_treshold"), "{err}");
    assert!(
        err.contains("bulk_delete_threshold"),
        "names the known ones: {err}"
    );
    // A known name runs.
    let o = trailscope(&[
        "check",
        "-q",
        "-a",
        &a,
        "--only",
        "RESOURCEDELETION",
        "--param",
        "bulk_delete_threshold=5",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
}

#[test]
fn bad_input_gets_one_clear_line_and_exit_2() {
    for (args, needle) in [
        (
            vec!["query", "-a", "/no/such/archive", "SELECT 1"],
            "/no/such/archive",
        ),
        (
            vec!["query", "-a", "gs://bucket", "SELECT 1"],
            "unsupported URL scheme",
        ),
        (
            vec!["query", "-a", ".", "--from", "yesterday", "SELECT 1"],
            "not a time",
        ),
        (
            vec!["query", "-a", ".", "--account", "12", "SELECT 1"],
            "12 digits",
        ),
        (vec!["query", "-a", ".", "SELEC 1"], "SQL"),
        (
            vec!["query", "-a", ".", "SELECT nosuchcolumn FROM cloudtrail"],
            "nosuchcolumn",
        ),
        (vec!["tables", "nosuchtable"], "no table nosuchtable"),
    ] {
        let out = trailscope(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
    }
}

#[test]
fn tables_lists_nested_columns_by_path() {
    let out = stdout(&trailscope(&["tables", "cloudtrail"]));
    for column in [
        "useridentity.sessioncontext.attributes.mfaauthenticated",
        "resources[].arn",
        "eventtime",
        "log_file",
    ] {
        assert!(out.contains(column), "{column} missing from:\n{out}");
    }
    let all = stdout(&trailscope(&["tables"]));
    assert!(all.contains("log_files") && all.contains("read_errors"));
}

#[test]
fn shell_runs_multi_line_statements_and_meta_commands() {
    use std::io::Write;
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args(["shell", "-a", &grycap_arg()])
        .env("HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT count(*) AS n\nFROM cloudtrail\nWHERE region = 'sa-east-1';\nSELECT nosuch FROM cloudtrail;\n\\d\n\\q\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("| 1746 |"), "{text}");
    assert!(text.contains("read_errors:"), "\\d lists tables: {text}");
    assert!(
        stderr(&out).contains("nosuch"),
        "errors are reported and the shell goes on"
    );
    let history = std::fs::read_to_string(home.path().join(".trailscope_history")).unwrap();
    assert!(history.contains("sa-east-1"), "history is kept: {history}");
}

/// A newcomer's first `verify` of the bundled archive, on a machine with no AWS access: it
/// works, says in one line that signatures were not checked and how to check them, and never
/// prints an SDK debug dump.
#[test]
fn first_verify_of_the_demo_works_offline_without_credentials() {
    let archive = crate::util::testdata().join("archive");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .arg("verify")
            .arg("-a")
            .arg(&archive)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("signatures not checked") && err.contains("--public-keys"),
        "{err}"
    );
    assert!(
        !err.contains("DispatchFailure") && !err.contains('{'),
        "{err}"
    );
    assert!(
        stdout(&o).contains("(signatures not checked)"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("log files valid"), "{}", stdout(&o));
    // With the keys that ship beside it, as the README shows: signatures checked, no warning.
    let keys = archive.join("_trailscope/public-keys.json");
    let signatures = archive.join("_trailscope/digest-signatures.json");
    let o = run(&[
        "--public-keys",
        keys.to_str().unwrap(),
        "--signatures",
        signatures.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("signatures not checked"),
        "{}",
        stdout(&o)
    );
}

/// A generated statement of about 37,000 ORs (1 MB) runs and gives the same answer as the
/// equivalent IN list, instead of overflowing the stack.
#[test]
fn a_statement_of_tens_of_thousands_of_ors_runs() {
    let a = grycap_arg();
    let mut names: Vec<String> = (0..37_000).map(|i| format!("NoSuchEvent{i}")).collect();
    names[18_000] = "ConsoleLogin".into();
    names[36_999] = "DescribeInstances".into();
    let ors: Vec<String> = names.iter().map(|n| format!("eventname = '{n}'")).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ors.sql");
    std::fs::write(
        &file,
        format!(
            "SELECT count(*) AS n FROM cloudtrail WHERE {}",
            ors.join(" OR ")
        ),
    )
    .unwrap();
    let many = trailscope(&[
        "query",
        "-q",
        "-a",
        &a,
        "--format",
        "csv",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_eq!(many.status.code(), Some(0), "{}", stderr(&many));
    let list = trailscope(&[
        "query",
        "-q",
        "-a",
        &a,
        "--format",
        "csv",
        "SELECT count(*) AS n FROM cloudtrail WHERE eventname IN ('ConsoleLogin', 'DescribeInstances')",
    ]);
    assert_eq!(stdout(&many), stdout(&list));
    assert_ne!(stdout(&list), "n\n0\n");
}

/// The README's Athena and CloudTrail Lake spellings of one question give the same rows.
#[test]
fn readme_dialect_examples_agree() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("# Athena:")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has the Athena / CloudTrail Lake block");
    // Each command's SQL is its double-quoted argument.
    let sqls: Vec<String> = block
        .split("trailscope query -a testdata/archive \"")
        .skip(1)
        .map(|cmd| cmd.split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(sqls.len(), 2, "{block}");
    let archive = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/archive");
    let run = |sql: &str| {
        let out = trailscope(&["query", "-q", "-a", archive, "--format", "csv", sql]);
        assert!(out.status.success(), "{sql}: {}", stderr(&out));
        stdout(&out)
    };
    let (athena, lake) = (run(&sqls[0]), run(&sqls[1]));
    assert_eq!(athena, lake);
    // The README says three principals.
    assert_eq!(athena.lines().count(), 1 + 3, "{athena}");
}

/// A user's own partition names hold the same part of the key and prune the listing as ours.
#[test]
fn partition_names_of_the_users_own_scheme() {
    let a = grycap_arg();
    let objects = |stderr_text: &str| -> String {
        let at = stderr_text.find(" objects,").expect(stderr_text);
        stderr_text[..at].rsplit('(').next().unwrap().to_string()
    };
    let theirs = trailscope(&[
        "query",
        "-a",
        &a,
        "--partition-names",
        "dt=date,acct=account",
        "--format",
        "csv",
        "SELECT dt, acct, count(*) AS n FROM cloudtrail WHERE dt = '2017/06/01' AND acct = '974349055189' GROUP BY 1, 2",
    ]);
    assert!(theirs.status.success(), "{}", stderr(&theirs));
    let ours = trailscope(&[
        "query",
        "-a",
        &a,
        "--format",
        "csv",
        "SELECT \"date\", account, count(*) AS n FROM cloudtrail WHERE \"date\" = '2017/06/01' AND account = '974349055189' GROUP BY 1, 2",
    ]);
    assert!(ours.status.success(), "{}", stderr(&ours));
    assert_eq!(stdout(&theirs).lines().nth(1), stdout(&ours).lines().nth(1));
    assert!(stdout(&theirs).contains("2017/06/01,974349055189,"));
    let (pruned, whole) = (objects(&stderr(&theirs)), objects(&stderr(&ours)));
    assert_eq!(pruned, whole);
    assert!(pruned.parse::<u32>().unwrap() < 1067, "{pruned}");
    // Hidden from `*` as ours are.
    let star = trailscope(&[
        "query",
        "-q",
        "-a",
        &a,
        "--partition-names",
        "dt=date",
        "--format",
        "csv",
        "SELECT * FROM cloudtrail LIMIT 1",
    ]);
    let header = stdout(&star).lines().next().unwrap().to_string();
    assert!(header.ends_with(",log_file"), "{header}");
    // A name taken or a part that is not one: exit 2, naming it.
    for (spec, says) in [
        ("year=date", "'year' is already a column"),
        ("dt=week", "'week' is not a part"),
    ] {
        let bad = trailscope(&["query", "-a", &a, "--partition-names", spec, "SELECT 1"]);
        assert_eq!(bad.status.code(), Some(2));
        assert!(stderr(&bad).contains(says), "{}", stderr(&bad));
    }
}

/// Saved queries start with a comment; given on the command line, it is SQL, not an option.
#[test]
fn sql_starting_with_a_comment_is_not_an_option() {
    let a = grycap_arg();
    let out = trailscope(&[
        "query",
        "-q",
        "-a",
        &a,
        "-- who called StopLogging\nSELECT count(*) AS n FROM cloudtrail WHERE eventname = 'StopLogging'",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("n\n"), "{}", stdout(&out));
}
