//! The real archive salted with hostile objects and odd names, as an adversary (or a broken copy)
//! would leave it: no command panics or stops, every bad object is named with its reason, the
//! good records are exact, and the archive's bytes and times are the same after every command.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{copy_tree, grycap, gzip, plant, stderr, stdout};

const ACCOUNT: &str = "974349055189";
const RECORDS: &str = "17598";

fn day() -> String {
    format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2017/06/01")
}

fn log_key(tag: &str) -> String {
    format!(
        "{}/{ACCOUNT}_CloudTrail_us-east-1_20170601T0000Z_{tag}.json.gz",
        day()
    )
}

/// Gzip of `head`, `repeat` × `unit`, `tail`, streamed (bombs are not built in memory whole).
fn gzip_stream(head: &[u8], unit: &[u8], repeat: usize, tail: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(head).unwrap();
    for _ in 0..repeat {
        e.write_all(unit).unwrap();
    }
    e.write_all(tail).unwrap();
    e.finish().unwrap()
}

/// Plants the hostile objects; returns the keys each read must name (as `read_errors` spells
/// them) with a word its reason must contain.
fn salt(root: &Path) -> BTreeMap<String, &'static str> {
    let mut bad = BTreeMap::new();
    let mut put = |tag: &str, bytes: Vec<u8>, reason: &'static str| {
        plant(root, &log_key(tag), &bytes);
        bad.insert(log_key(tag), reason);
    };
    let record = br#"{"Records":[{"eventName":"Planted","eventTime":"2017-06-01T00:00:00Z"}]}"#;
    let good = gzip(record);
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 10);
    put("truncatedGzip", truncated, "gzip");
    let mut bad_crc = good.clone();
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 0xff;
    put("badCrc", bad_crc, "gzip");
    let mut two_members = good.clone();
    two_members.extend(gzip(record));
    put(
        "secondMember",
        two_members,
        "after the end of the gzip member",
    );
    let mib = vec![b' '; 1 << 20];
    put(
        "whitespaceBomb",
        gzip_stream(b"", &mib, 300, b""),
        "decompression bomb",
    );
    let a = vec![b'A'; 1 << 20];
    put(
        "giantString",
        gzip_stream(br#"{"Records":[{"eventName":""#, &a, 70, br#""}]}"#),
        "a record larger than 64 MiB",
    );
    let deep = format!(
        r#"{{"Records":[{{"eventName":"X","requestParameters":{}{}}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    put("deepNesting", gzip(deep.as_bytes()), "recursion");
    put(
        "nulByte",
        gzip(b"{\"Records\":[\0]}"),
        "not a CloudTrail log document",
    );
    put(
        "byteOrderMark",
        gzip(b"\xef\xbb\xbf{\"Records\":[]}"),
        "not a CloudTrail log document",
    );
    put(
        "rawNewlineInString",
        gzip(b"{\"Records\":[{\"eventName\":\"a\nb\"}]}"),
        "control character",
    );
    put("emptyObject", Vec::new(), "empty");
    // Wrong types are read as they always are (a scalar where an object or list belongs is
    // null): readable, whatever is projected.
    plant(
        root,
        &log_key("wrongTypes"),
        &gzip(br#"{"Records":[{"eventName":"WrongTypes","resources":"x","userIdentity":5}]}"#),
    );
    put("gzipOfNothing", gzip(b""), "not a CloudTrail log document");
    put(
        "html",
        gzip(b"<html>AccessDenied</html>"),
        "not a CloudTrail log document",
    );
    put(
        "plainGarbage",
        b"\x00\x01garbage".to_vec(),
        "not a CloudTrail log document",
    );
    put(
        "noRecordsKey",
        gzip(br#"{"records":[]}"#),
        "without a \"Records\" array",
    );
    put(
        "recordsNull",
        gzip(br#"{"Records":null}"#),
        "not a CloudTrail log document",
    );
    put(
        "recordsNumber",
        gzip(br#"{"Records":5}"#),
        "not a CloudTrail log document",
    );
    put(
        "nullRecord",
        gzip(br#"{"Records":[null]}"#),
        "not a CloudTrail log document",
    );
    put(
        "numberRecord",
        gzip(br#"[1]"#),
        "not a CloudTrail log document",
    );
    put(
        "twoRecordsArrays",
        gzip(br#"{"Records":[{"eventName":"A"}],"Records":[{"eventName":"B"}]}"#),
        "second \"Records\" array",
    );
    put(
        "truncatedJson",
        gzip(br#"{"Records":[{"eventName":"A"#),
        "not a CloudTrail log document",
    );
    put(
        "dataAfterDocument",
        gzip(br#"{"Records":[]} {"Records":[]}"#),
        "after the JSON document",
    );
    // Names and kinds of file that cannot be objects at all.
    let dir = root.join(day());
    let odd = |name: &str| format!("{}/{name}", day());
    std::fs::write(dir.join("new\nline.json.gz"), &good).unwrap();
    bad.insert(odd("new\nline.json.gz"), "control characters");
    std::fs::write(dir.join("tab\there.json.gz"), &good).unwrap();
    bad.insert(odd("tab\there.json.gz"), "control characters");
    std::fs::create_dir_all(dir.join("folder.json.gz")).unwrap();
    bad.insert(odd("folder.json.gz"), "folder named like a log file");
    std::fs::write(dir.join("notes.txt"), b"x").unwrap();
    bad.insert(odd("notes.txt"), "not named like a CloudTrail file");
    let misplaced = format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/misplaced.json.gz");
    plant(root, &misplaced, &good);
    bad.insert(misplaced, "unexpected key layout");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::symlink;
        let name = std::ffi::OsStr::from_bytes(b"bad\xffutf8.json.gz");
        std::fs::write(dir.join(name), &good).unwrap();
        bad.insert(odd("bad\u{fffd}utf8.json.gz"), "UTF-8");
        symlink(dir.join("nowhere.json.gz"), dir.join("dangling.json.gz")).unwrap();
        bad.insert(odd("dangling.json.gz"), "symlink");
        symlink("self.json.gz", dir.join("self.json.gz")).unwrap();
        bad.insert(odd("self.json.gz"), "symlink");
        symlink(root.join("AWSLogs"), dir.join("loop")).unwrap();
        bad.insert(odd("loop"), "loop");
        let fifo = std::process::Command::new("mkfifo")
            .arg(dir.join("fifo.json.gz"))
            .status()
            .unwrap();
        assert!(fifo.success());
        bad.insert(odd("fifo.json.gz"), "FIFO");
    }
    bad
}

/// Every entry under `root` (not following links): its kind, size, time and content hash.
fn fingerprint(root: &Path) -> BTreeMap<PathBuf, (String, u64, std::time::SystemTime, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mut hash = std::collections::hash_map::DefaultHasher::new();
            if meta.is_file() {
                std::fs::read(&path).unwrap().hash(&mut hash);
            }
            let kind = format!("{:?}", meta.file_type());
            out.insert(
                path.clone(),
                (kind, meta.len(), meta.modified().unwrap(), hash.finish()),
            );
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

fn run(archive: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .arg(args[0])
        .arg("-q")
        .arg("-a")
        .arg(archive)
        .args(&args[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(
        !err.contains("panicked")
            && !err.contains("internal error")
            && !err.contains("RUST_BACKTRACE"),
        "{args:?}: {err}"
    );
    out
}

#[test]
fn a_hostile_archive_is_read_around_naming_every_bad_object() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    std::fs::create_dir_all(&root).unwrap();
    copy_tree(&grycap(), &root);
    let bad = salt(&root);
    assert!(bad.len() >= 30, "{} kinds", bad.len());
    let before = fingerprint(&root);

    // The good records, exactly, and the same records whatever the query projects: the archive's,
    // the first member of the two-member file (named as partly read), and the wrong types.
    let planted = "log_file LIKE '%20170601T0000Z%'";
    let expected = RECORDS.parse::<usize>().unwrap() + 2;
    for sql in [
        "SELECT count(*) AS n FROM cloudtrail".to_string(),
        "SELECT sum(n) AS n FROM (SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1)"
            .to_string(),
        "SELECT count(*) AS n FROM (SELECT * FROM cloudtrail)".to_string(),
        "SELECT count(*) AS n FROM (SELECT useridentity, resources, requestparameters, \
         useragent, sourceipaddress FROM cloudtrail)"
            .to_string(),
    ] {
        let o = run(&root, &["query", "--format", "csv", &sql]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), format!("n\n{expected}\n"), "{sql}");
    }
    let by_name = |extra: &str| {
        format!("SELECT eventname, count(*) AS n FROM cloudtrail {extra} GROUP BY 1 ORDER BY 1")
    };
    let salted = run(
        &root,
        &[
            "query",
            "--format",
            "csv",
            &by_name(&format!("WHERE NOT {planted}")),
        ],
    );
    let pristine = run(&grycap(), &["query", "--format", "csv", &by_name("")]);
    assert_eq!(stdout(&salted), stdout(&pristine));
    let readable = run(
        &root,
        &[
            "query",
            "--format",
            "csv",
            &format!("SELECT eventname FROM cloudtrail WHERE {planted} ORDER BY 1"),
        ],
    );
    assert_eq!(stdout(&readable), "eventname\nPlanted\nWrongTypes\n");

    // Every bad object named, once, with its reason.
    let errors = run(
        &root,
        &[
            "query",
            "--format",
            "json",
            "SELECT key, reason, class FROM read_errors",
        ],
    );
    assert_eq!(errors.status.code(), Some(0), "{}", stderr(&errors));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&errors)).unwrap();
    let named: BTreeMap<String, String> = rows
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(named.len(), rows.len(), "each key once");
    let expected_keys: BTreeSet<&String> = bad.keys().collect();
    let got: BTreeSet<&String> = named.keys().collect();
    assert_eq!(got, expected_keys);
    for (key, word) in &bad {
        assert!(
            named[key].contains(word),
            "{key:?}: {} (expected {word:?})",
            named[key]
        );
    }
    assert!(rows.iter().all(|r| r["class"] == "unreadable"));

    // --strict fails on them; every other command goes on around them.
    let strict = run(
        &root,
        &["query", "--strict", "SELECT count(*) FROM cloudtrail"],
    );
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    let out = dir.path().join("out");
    let lake = out.join("lake").to_str().unwrap().to_string();
    for args in [
        vec!["gaps"],
        vec!["verify", "--format", "jsonl"],
        vec!["check"],
        vec!["convert", "--lake", &lake],
    ] {
        let o = run(&root, &args);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let lake_count = run(
        &root,
        &[
            "query",
            "--lake",
            &lake,
            "--format",
            "csv",
            "SELECT count(*) AS n FROM cloudtrail",
        ],
    );
    assert_eq!(
        stdout(&lake_count),
        format!("n\n{expected}\n"),
        "{}",
        stderr(&lake_count)
    );

    assert!(before == fingerprint(&root), "the archive changed");
}

#[test]
fn a_legal_log_file_too_large_to_inflate_whole_is_read_in_slices() {
    // 90 records of about 1 MiB: past the 64 MiB an object may inflate to in one piece.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    let n = 90usize;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b"{\"Records\":[").unwrap();
    let agent = "a".repeat(1 << 20);
    for i in 0..n {
        if i > 0 {
            e.write_all(b",").unwrap();
        }
        let record = format!(
            r#"{{"eventName":"Large{}","eventTime":"2017-06-01T00:{:02}:00Z","eventID":"id-{i}","userAgent":"{agent}"}}"#,
            i % 3,
            i % 60
        );
        e.write_all(record.as_bytes()).unwrap();
    }
    e.write_all(b"]}").unwrap();
    plant(&root, &log_key("large"), &e.finish().unwrap());
    plant(
        &root,
        &log_key("small"),
        &gzip(br#"{"Records":[{"eventName":"Small","eventTime":"2017-06-01T00:00:00Z","eventID":"s"}]}"#),
    );
    let before = fingerprint(&root);
    let sql = "SELECT eventname, count(*) AS n, count(DISTINCT eventid) AS ids, \
               sum(length(useragent)) AS agent_bytes FROM cloudtrail GROUP BY 1 ORDER BY 1";
    let expected = format!(
        "eventname,n,ids,agent_bytes\nLarge0,30,30,{0}\nLarge1,30,30,{0}\nLarge2,30,30,{0}\nSmall,1,1,\n",
        30u64 << 20
    );
    let raw = run(&root, &["query", "--strict", "--format", "csv", sql]);
    assert_eq!(raw.status.code(), Some(0), "{}", stderr(&raw));
    assert_eq!(stdout(&raw), expected);

    // convert writes it a slice at a time, says so, and the lake's answer is the same.
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let converted = std::process::Command::new(env!("CARGO_BIN_EXE_trailscope"))
        .args(["convert", "-a", root.to_str().unwrap(), "--lake", lake])
        .output()
        .unwrap();
    assert_eq!(converted.status.code(), Some(0), "{}", stderr(&converted));
    assert!(
        stderr(&converted).contains("converted 2 log files (91 records)")
            && stderr(&converted).contains(
                "1 log file too large to inflate whole (over 64 MiB) converted a slice at a time"
            ),
        "{}",
        stderr(&converted)
    );
    let from_lake = run(
        &root,
        &["query", "--strict", "--lake", lake, "--format", "csv", sql],
    );
    assert_eq!(from_lake.status.code(), Some(0), "{}", stderr(&from_lake));
    assert_eq!(stdout(&from_lake), expected);
    assert!(before == fingerprint(&root), "the archive changed");
}
