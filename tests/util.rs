//! Helpers shared by the integration tests: test data paths, running queries through the
//! library or the binary, planting objects in temporary archives, and a moto S3 server.

#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use trailscope::archive::{Location, S3Options, Scope};
use trailscope::table::{ArchiveSource, session, statements};

/// Real CloudTrail data published by others, vendored with its licences (testdata/THIRD-PARTY.md).
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// The real grycap archive: 1,067 log files, 17,598 records.
pub fn grycap() -> PathBuf {
    testdata().join("grycap-archive")
}

/// Real log files, detonations, rule tests, keys and a digest (testdata/THIRD-PARTY.md).
pub fn samples() -> PathBuf {
    testdata().join("samples")
}

/// Runs `sql` over a local archive through the library; returns the batches and the source
/// (whose counters tell what the scan cost).
pub async fn query(archive: &Path, scope: Scope, sql: &str) -> (Vec<RecordBatch>, ArchiveSource) {
    let location = Location::open(archive.to_str().unwrap(), &S3Options::default())
        .await
        .unwrap();
    let source = ArchiveSource::new(location, scope, false);
    let ctx = session(&source).unwrap();
    let parsed = statements::parse_checked(sql, None).unwrap();
    let mut results = statements::execute(&ctx, parsed).await.unwrap();
    (results.pop().unwrap().batches, source)
}

/// Rows as `a|b|c` lines, for compact assertions.
pub fn rows(batches: &[RecordBatch]) -> Vec<String> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let formatters: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out
}

/// The single value of a one-row, one-column result, as text.
pub fn scalar(batches: &[RecordBatch]) -> String {
    let r = rows(batches);
    assert_eq!(r.len(), 1, "expected one row, got {r:?}");
    r[0].clone()
}

pub fn trailscope(args: &[&str]) -> Output {
    trailscope_with_env(args, &[])
}

pub fn trailscope_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailscope"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run trailscope")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard output as JSON lines.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes `bytes` at `key` under `root`, creating folders.
pub fn plant(root: &Path, key: &str, bytes: &[u8]) {
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Copies a directory tree (tests never alter shared data in place).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// All files under `root`, as keys relative to it.
pub fn keys_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

/// A moto S3 server on 127.0.0.1, started once for the whole test binary and stopped when the
/// test process exits (a shell watchdog follows our pid).
pub struct Moto {
    pub endpoint: String,
    /// The shell that runs moto_server and stops it when we exit.
    _watchdog: std::process::Child,
}

pub const MOTO_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = format!(
            "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             while kill -0 {} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
            std::process::id()
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not start on port {port}: is it installed (pip install 'moto[server]')?"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _watchdog: watchdog,
        }
    })
}

impl Moto {
    /// Creates a bucket (moto accepts unsigned requests) and uploads every file under `dir`
    /// through object_store's S3 client, with optional per-key metadata.
    pub async fn upload(&self, bucket: &str, dir: &Path, metadata: &[(String, String, String)]) {
        self.create_bucket(bucket);
        self.upload_more(bucket, dir, metadata).await;
    }

    fn create_bucket(&self, bucket: &str) {
        let addr = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "create bucket: {response}"
        );
    }

    /// Uploads every file under `dir` into an existing bucket (overwriting same keys).
    pub async fn upload_more(
        &self,
        bucket: &str,
        dir: &Path,
        metadata: &[(String, String, String)],
    ) {
        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .build()
            .unwrap();
        use object_store::{Attribute, Attributes, ObjectStore, PutOptions};
        for key in keys_under(dir) {
            let bytes = std::fs::read(dir.join(&key)).unwrap();
            let mut attributes = Attributes::new();
            for (k, name, value) in metadata {
                if *k == key {
                    attributes.insert(
                        Attribute::Metadata(name.clone().into()),
                        value.clone().into(),
                    );
                }
            }
            let options = PutOptions {
                attributes,
                ..Default::default()
            };
            store
                .put_opts(
                    &object_store::path::Path::from(key.as_str()),
                    bytes.into(),
                    options,
                )
                .await
                .unwrap();
        }
    }
}
