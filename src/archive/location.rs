//! Opening an archive location: a local directory, a `file://` URL, or `s3://bucket[/prefix]`.
//!
//! Storage is chosen by URL scheme behind this one factory, so every other module sees an
//! `ObjectStore` and a root path and never asks where the bytes live. S3 credentials come from the
//! AWS SDK's standard chain (environment, profile, SSO, web identity, IMDS) rather than
//! object_store's own environment reader, so trailscope accepts exactly what the AWS CLI accepts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{CredentialProvider, ObjectStore};
use tokio::sync::Mutex;

use super::retry::{DEFAULT_RETRY_BUDGET, RetryAfterConnector, RetryPolicy};
use crate::error::{Error, Result};

/// Options for S3 and S3-compatible stores, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// A named profile from `~/.aws/config` (otherwise `AWS_PROFILE` or the default chain).
    pub profile: Option<String>,
    /// The bucket's region; otherwise the SDK's configured region, then the bucket's own.
    pub region: Option<String>,
    /// An S3-compatible endpoint such as `http://127.0.0.1:5000`; path-style requests are used.
    pub endpoint_url: Option<String>,
    /// How long one read may keep failing before it is given up (the default when `None`).
    pub retry_budget: Option<std::time::Duration>,
}

/// An opened archive: the store, the root inside it, and a printable name without credentials.
#[derive(Debug, Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// Path inside the store under which the archive lives (empty for a whole bucket/directory).
    pub root: Path,
    /// What the user gave, for messages.
    pub display: String,
    /// The local directory, when the archive is on this machine (used to refuse writing into it).
    pub local_dir: Option<std::path::PathBuf>,
    /// The same store as `store`, typed, when it is a local directory: checks that read tens of
    /// thousands of small files map keys to paths with it and read them in batches on one
    /// blocking thread, instead of paying the object store's two thread hops per file.
    pub local_files: Option<Arc<LocalFileSystem>>,
    /// How reads of this store are retried (not at all for a local directory).
    pub retry: RetryPolicy,
    /// The bucket, its region and the options it was opened with, for an S3 archive.
    pub s3: Option<S3Access>,
    /// Folder listings kept for reuse, when [`Location::remembering_listings`] asked for it.
    pub listings: Option<Arc<super::listing::ListingMemo>>,
}

/// What listing an S3 archive with the AWS SDK needs (see `raw_listing`).
#[derive(Debug, Clone)]
pub struct S3Access {
    pub bucket: String,
    pub region: String,
    pub options: S3Options,
}

impl Location {
    /// The store for readers that do not retry themselves (DataFusion's Parquet scan of a
    /// lake): on S3, every read retried under [`Location::retry`], and a read given up is
    /// reported in one line like the archive's.
    pub fn retrying_reads(&self) -> Arc<dyn ObjectStore> {
        match (&self.s3, &self.local_files) {
            (Some(_), _) => {
                super::retrying_store::ReadRetryingStore::wrap(Arc::clone(&self.store), self.retry)
            }
            (None, Some(files)) => {
                super::inline_local_reads::InlineLocalReads::wrap(Arc::clone(files))
            }
            (None, None) => Arc::clone(&self.store),
        }
    }

    /// The same location, each of its folders listed at most once from now on (by any clone of
    /// what this returns): for a run of several steps that must see one state of the archive
    /// (a report's scan, verify, gap analysis and manifest) and should not list it once each.
    pub fn remembering_listings(&self) -> Location {
        Location {
            listings: Some(Arc::default()),
            ..self.clone()
        }
    }

    /// An archive with no objects, in memory: for planning SQL when only the tables' shapes
    /// matter (`lint`).
    pub fn empty() -> Location {
        Location {
            store: Arc::new(object_store::memory::InMemory::new()),
            root: Path::default(),
            display: "(no archive)".to_string(),
            local_dir: None,
            local_files: None,
            retry: RetryPolicy::NONE,
            s3: None,
            listings: None,
        }
    }

    /// Opens `location` without touching the network beyond what credentials need.
    pub async fn open(location: &str, s3: &S3Options) -> Result<Location> {
        if let Some(rest) = location.strip_prefix("s3://") {
            return open_s3(location, rest, s3).await;
        }
        if location.contains("://") && !location.starts_with("file://") {
            return Err(archive_error(
                location,
                "unsupported URL scheme: use a local path, file:///path or s3://bucket/prefix",
            ));
        }
        let path = location.strip_prefix("file://").unwrap_or(location);
        open_local(location, std::path::Path::new(path))
    }
}

fn archive_error(location: &str, reason: impl Into<String>) -> Error {
    Error::Archive {
        location: location.to_string(),
        reason: reason.into(),
    }
}

fn open_local(display: &str, dir: &std::path::Path) -> Result<Location> {
    let meta = std::fs::metadata(dir).map_err(|e| {
        archive_error(
            display,
            format!("{e}: give the directory that holds AWSLogs/"),
        )
    })?;
    if !meta.is_dir() {
        return Err(archive_error(
            display,
            "is a file; give the directory that holds AWSLogs/ (or a folder below it)",
        ));
    }
    let dir = dir.canonicalize().map_err(|e| Error::io(display, e))?;
    let store = Arc::new(
        LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| archive_error(display, e.to_string()))?,
    );
    Ok(Location {
        store: Arc::clone(&store) as Arc<dyn ObjectStore>,
        root: Path::default(),
        display: display.to_string(),
        local_dir: Some(dir),
        local_files: Some(store),
        retry: RetryPolicy::NONE,
        s3: None,
        listings: None,
    })
}

async fn open_s3(display: &str, rest: &str, opts: &S3Options) -> Result<Location> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(archive_error(
            display,
            "no bucket name: use s3://bucket[/prefix]",
        ));
    }
    let sdk = load_sdk_config(opts).await;
    let credentials = sdk.credentials_provider().ok_or_else(|| {
        archive_error(
            display,
            "no AWS credentials provider: set AWS_PROFILE (or give a profile), or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        )
    })?;
    let retry = RetryPolicy {
        budget: opts.retry_budget.unwrap_or(DEFAULT_RETRY_BUDGET),
    };
    // Our own retries (`retry`) own the time budget; object_store's stay few and quick.
    let store_retries = object_store::RetryConfig {
        max_retries: 2,
        retry_timeout: retry.budget.max(std::time::Duration::from_secs(1)),
        ..Default::default()
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_retry(store_retries)
        .with_http_connector(RetryAfterConnector { cap: retry.budget })
        .with_credentials(Arc::new(CachedSdkCredentials::new(credentials)));
    let region = match (&opts.region, &opts.endpoint_url) {
        (Some(r), _) => r.clone(),
        (None, Some(_)) => sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into()),
        // The bucket's own region beats the profile's: CloudTrail buckets often live elsewhere.
        (None, None) => {
            match object_store::aws::resolve_bucket_region(bucket, &Default::default()).await {
                Ok(r) => r,
                Err(_) => sdk
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "us-east-1".into()),
            }
        }
    };
    builder = builder.with_region(region.clone());
    if let Some(endpoint) = &opts.endpoint_url {
        let url = url::Url::parse(endpoint).map_err(|e| {
            Error::input(
                crate::Input::EndpointUrl,
                endpoint,
                format!("{e} (expected e.g. http://127.0.0.1:9000)"),
            )
        })?;
        // Virtual-hosted requests against an IP or localhost endpoint cannot resolve (and make
        // object_store panic inside its signer), so S3-compatible endpoints always use path style.
        builder = builder
            .with_endpoint(endpoint.trim_end_matches('/'))
            .with_allow_http(url.scheme() == "http")
            .with_virtual_hosted_style_request(false);
    } else if bucket.contains('.') {
        // Dotted bucket names break TLS with virtual-hosted requests; path style handles them.
        builder = builder.with_virtual_hosted_style_request(false);
    }
    let store = builder
        .build()
        .map_err(|e| archive_error(display, e.to_string()))?;
    let root = Path::parse(prefix.trim_matches('/'))
        .map_err(|e| archive_error(display, format!("invalid prefix: {e}")))?;
    Ok(Location {
        store: Arc::new(store),
        root,
        display: display.to_string(),
        local_dir: None,
        local_files: None,
        retry,
        s3: Some(S3Access {
            bucket: bucket.to_string(),
            region,
            options: opts.clone(),
        }),
        listings: None,
    })
}

/// Loads the shared AWS configuration (profile, region, credentials chain).
pub async fn load_sdk_config(opts: &S3Options) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &opts.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &opts.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Bridges the AWS SDK credential chain into object_store, caching until shortly before expiry
/// (the SDK's raw providers do not cache: IMDS or SSO would be asked on every request).
#[derive(Debug)]
struct CachedSdkCredentials {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl CachedSdkCredentials {
    fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl CredentialProvider for CachedSdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|at| at > SystemTime::now() + Duration::from_secs(300));
            if fresh {
                return Ok(Arc::clone(credential));
            }
        }
        let c = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: format!(
                    "no usable AWS credentials ({e}): set AWS_PROFILE (or give a profile), run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                )
                .into(),
            })?;
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        });
        *cached = Some((Arc::clone(&credential), c.expiry()));
        Ok(credential)
    }
}

/// Whether location `inner` is `outer` or lies inside it: local paths compared after making
/// them absolute and resolving symlinks and `..` (even where their tail does not exist yet),
/// S3 locations by bucket and whole key segments. Every "is this inside the archive" question
/// (`-o`, `--allow-write`, `--lake`) is answered here.
pub fn is_within(inner: &str, outer: &str) -> bool {
    match (s3_parts(inner), s3_parts(outer)) {
        (Some((ib, ip)), Some((ob, op))) => ib == ob && is_prefix(&op, &ip),
        (None, None) => resolve_local(inner).starts_with(resolve_local(outer)),
        _ => false,
    }
}

/// `s3://bucket/a/b` → (bucket, [a, b]).
fn s3_parts(location: &str) -> Option<(String, Vec<String>)> {
    let rest = location.strip_prefix("s3://")?;
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    let bucket = parts.next().unwrap_or_default().to_string();
    Some((bucket, parts.map(str::to_string).collect()))
}

fn is_prefix(a: &[String], b: &[String]) -> bool {
    a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// An absolute, symlink-resolved path, even when its tail does not exist yet (a new lake), and
/// through a symlink that leads to nothing yet (writing to it would create its target).
pub fn resolve_local(location: &str) -> std::path::PathBuf {
    let raw = location.strip_prefix("file://").unwrap_or(location);
    let absolute = std::path::absolute(raw).unwrap_or_else(|_| std::path::PathBuf::from(raw));
    resolve_path(&absolute, 0)
}

/// How many dangling symlinks in a row are followed (the kernel's own limit is 40).
const MAX_LINK_HOPS: u32 = 40;

fn resolve_path(absolute: &std::path::Path, hops: u32) -> std::path::PathBuf {
    let mut existing: &std::path::Path = absolute;
    let mut tail = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            return append_tail(c, &tail);
        }
        if hops < MAX_LINK_HOPS
            && let Ok(target) = std::fs::read_link(existing)
        {
            let base = existing.parent().unwrap_or(std::path::Path::new("/"));
            return append_tail(resolve_path(&base.join(target), hops + 1), &tail);
        }
        // `file_name` is None for a path ending in `..`: take the last component itself.
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                tail.push(last.as_os_str().to_os_string());
                existing = parent;
            }
            _ => return absolute.to_path_buf(),
        }
    }
}

/// `base` joined with the components of `tail` (collected last first). The tail does not exist,
/// so only its text can resolve a `..` in it.
fn append_tail(base: std::path::PathBuf, tail: &[std::ffi::OsString]) -> std::path::PathBuf {
    tail.iter().rev().fold(base, |mut p, part| {
        if part == ".." {
            p.pop();
        } else if part != "." {
            p.push(part);
        }
        p
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_is_decided_on_resolved_paths_and_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let arch = dir.path().join("arch");
        std::fs::create_dir_all(arch.join("AWSLogs")).unwrap();
        let a = arch.to_str().unwrap();
        let inside = |p: &str| is_within(&format!("{}/{p}", dir.path().display()), a);
        assert!(inside("arch/x.csv"));
        assert!(inside("arch"));
        assert!(inside("arch/AWSLogs/new/out.csv"));
        assert!(inside("other/../arch/x.csv"));
        assert!(inside("missing/../arch/x.csv"));
        assert!(!inside("arch-out/x.csv"));
        assert!(!inside("archive.csv"));
        // A relative destination against a relative archive, as the shell gives them.
        let here = std::env::current_dir().unwrap();
        let rel = pathdiff(&arch, &here);
        assert!(is_within(&format!("{rel}/x.csv"), &format!("./{rel}")));
        assert!(is_within("s3://b/logs/x", "s3://b/logs/"));
        assert!(is_within("s3://b/logs", "s3://b"));
        assert!(!is_within("s3://b/logs-2/x", "s3://b/logs"));
        assert!(!is_within("s3://c/logs/x", "s3://b/logs"));
        assert!(!is_within("/tmp/x", "s3://b"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_even_when_they_lead_nowhere_yet() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let arch = dir.path().join("arch");
        std::fs::create_dir_all(arch.join("AWSLogs")).unwrap();
        std::fs::write(arch.join("AWSLogs/log.json.gz"), b"x").unwrap();
        let a = arch.to_str().unwrap();
        let link = |name: &str, target: &std::path::Path| {
            let path = dir.path().join(name);
            symlink(target, &path).unwrap();
            path.to_str().unwrap().to_string()
        };
        // To an existing log file, to a file not yet there, and through a chain of two.
        assert!(is_within(
            &link("out.csv", &arch.join("AWSLogs/log.json.gz")),
            a
        ));
        let dangling = link("new.csv", &arch.join("AWSLogs/new.csv"));
        assert!(is_within(&dangling, a));
        assert!(is_within(
            &link("chain.csv", std::path::Path::new("new.csv")),
            a
        ));
        assert!(!is_within(
            &link("fine.csv", &dir.path().join("elsewhere.csv")),
            a
        ));
        // A loop resolves to something, without hanging.
        let looped = link("loop.csv", &dir.path().join("loop.csv"));
        assert!(!is_within(&looped, a));
    }

    /// `target` relative to `base` through `..` segments.
    fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> String {
        let (t, b) = (target.canonicalize().unwrap(), base.canonicalize().unwrap());
        let common = t
            .components()
            .zip(b.components())
            .take_while(|(x, y)| x == y)
            .count();
        let ups = b.components().count() - common;
        let mut out: Vec<String> = vec!["..".into(); ups];
        out.extend(
            t.components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().into()),
        );
        out.join("/")
    }

    #[tokio::test]
    async fn rejects_unknown_scheme_and_missing_dir() {
        let err = Location::open("gs://bucket", &S3Options::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unsupported URL scheme"), "{err}");
        let err = Location::open("/definitely/not/here", &S3Options::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"), "{err}");
        let err = Location::open("s3://", &S3Options::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no bucket name"), "{err}");
    }
}
