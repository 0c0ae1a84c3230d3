//! Reading many small objects to check each one: digests (a few KiB) and log files (a few KiB to
//! a few MiB), tens of thousands per run.
//!
//! Over S3 an object costs a round trip, so many GETs are kept in flight and each object's check
//! runs on the blocking pool. A local directory costs no round trip, and per file the object
//! store's two blocking-thread hops (open, then read) plus a third for the check cost more CPU
//! than the check itself (a 6 KiB log file inflates and hashes in ~60 µs). So local objects are
//! read in batches: one blocking task reads and checks a batch of files in turn, as a plain
//! single-threaded program would, and a few batches run at once to use every core.
//!
//! Every item comes back exactly once with its outcome, a panicking check included: evidence is
//! never dropped because its check failed.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use object_store::local::LocalFileSystem;
use object_store::{Attribute, ObjectStore, ObjectStoreExt};

use super::{LOCAL_BATCH, store_path};
use crate::archive::Location;
use crate::archive::retry::RetryPolicy;

/// The largest read buffer a thread keeps between files.
const KEPT_BUFFER: usize = 16 << 20;

/// What reading an object and checking it gave.
#[derive(Debug)]
pub enum Outcome<R> {
    /// The object does not exist.
    Missing,
    /// It could not be read (or its check panicked): the reason.
    Failed(String),
    /// Its bytes could not be fetched from a remote store, after retries: the reason. That
    /// says nothing about the object itself.
    Unfetched(String),
    /// The check's result, and the object's `x-amz-meta-signature` when the store keeps one.
    Checked {
        result: R,
        signature: Option<String>,
    },
}

/// A batch or a check lost to the runtime (a task cancelled at shutdown): the run cannot vouch
/// for every object, so it fails rather than report fewer.
pub(crate) type Lost = String;

/// Reads each `(key, item)` and runs `check(item, bytes)` on it off the async threads, at most
/// `concurrency` objects (remote) or a few batches per core (local) at a time. Results come in
/// completion order.
pub fn check_each<I, R, F>(
    location: &Location,
    items: Vec<(String, I)>,
    concurrency: usize,
    check: F,
) -> BoxStream<'static, Result<(I, Outcome<R>), Lost>>
where
    I: Send + 'static,
    R: Send + 'static,
    F: Fn(&I, &[u8]) -> R + Send + Sync + 'static,
{
    let check = Arc::new(check);
    match &location.local_files {
        Some(files) => local_batches(Arc::clone(files), location.local_dir.clone(), items, check),
        None => remote(
            Arc::clone(&location.store),
            location.retry,
            items,
            concurrency,
            check,
        ),
    }
}

fn local_batches<I, R, F>(
    files: Arc<LocalFileSystem>,
    root: Option<std::path::PathBuf>,
    items: Vec<(String, I)>,
    check: Arc<F>,
) -> BoxStream<'static, Result<(I, Outcome<R>), Lost>>
where
    I: Send + 'static,
    R: Send + 'static,
    F: Fn(&I, &[u8]) -> R + Send + Sync + 'static,
{
    let mut batches: Vec<Vec<(String, I)>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        batches.push(items.by_ref().take(LOCAL_BATCH).collect());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    stream::iter(batches)
        .map(move |batch| {
            let files = Arc::clone(&files);
            let root = root.clone();
            let check = Arc::clone(&check);
            tokio::task::spawn_blocking(move || {
                batch
                    .into_iter()
                    .map(|(key, item)| {
                        let root = root.as_deref();
                        let outcome = read_local_and_check(&files, root, &key, &*check, &item);
                        (item, outcome)
                    })
                    .collect::<Vec<_>>()
            })
        })
        // A couple of batches beyond the cores, so one core's wait for a cold read is covered.
        .buffer_unordered(cores + 2)
        .flat_map(|joined| match joined {
            Ok(checked) => stream::iter(checked).map(Ok).left_stream(),
            Err(e) => stream::once(async move { Err(format!("a batch of reads was lost: {e}")) })
                .right_stream(),
        })
        .boxed()
}

thread_local! {
    /// Each blocking thread reads its files into one buffer, reused: no allocation per file.
    static FILE_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads a local object and checks it, or gives its outcome when it cannot be read.
fn read_local_and_check<I, R>(
    files: &LocalFileSystem,
    root: Option<&std::path::Path>,
    key: &str,
    check: &(impl Fn(&I, &[u8]) -> R + ?Sized),
    item: &I,
) -> Outcome<R> {
    let path = match super::local_path(files, root, key) {
        Ok(path) => path,
        Err(e) => return Outcome::Failed(e),
    };
    FILE_BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let outcome = match std::fs::File::open(&path).and_then(|mut f| f.read_to_end(buffer)) {
            Ok(_) => guarded(check, item, buffer),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Missing,
            Err(e) => Outcome::Failed(format!("{}: {e}", path.display())),
        };
        // One odd huge object must not pin its size for the rest of the run.
        if buffer.capacity() > KEPT_BUFFER {
            *buffer = Vec::new();
        }
        outcome
    })
}

/// Runs the check, turning a panic into a failure of this object alone.
fn guarded<I, R>(check: &(impl Fn(&I, &[u8]) -> R + ?Sized), item: &I, bytes: &[u8]) -> Outcome<R> {
    match catch_unwind(AssertUnwindSafe(|| check(item, bytes))) {
        Ok(result) => Outcome::Checked {
            result,
            signature: None,
        },
        Err(_) => Outcome::Failed("checking the object failed (internal error)".into()),
    }
}

fn remote<I, R, F>(
    store: Arc<dyn ObjectStore>,
    retry: RetryPolicy,
    items: Vec<(String, I)>,
    concurrency: usize,
    check: Arc<F>,
) -> BoxStream<'static, Result<(I, Outcome<R>), Lost>>
where
    I: Send + 'static,
    R: Send + 'static,
    F: Fn(&I, &[u8]) -> R + Send + Sync + 'static,
{
    stream::iter(items)
        .map(move |(key, item)| {
            let store = Arc::clone(&store);
            let check = Arc::clone(&check);
            async move {
                let (bytes, signature) = match get(&*store, retry, &key).await {
                    Ok(Some(got)) => got,
                    Ok(None) => return Ok((item, Outcome::Missing)),
                    Err(e) => return Ok((item, Outcome::Unfetched(e))),
                };
                let (item, outcome) = tokio::task::spawn_blocking(move || {
                    let outcome = guarded(&*check, &item, &bytes);
                    (item, outcome)
                })
                .await
                .map_err(|e| format!("the check of {key} was lost: {e}"))?;
                Ok(match outcome {
                    Outcome::Checked { result, .. } => {
                        (item, Outcome::Checked { result, signature })
                    }
                    other => (item, other),
                })
            }
        })
        .buffer_unordered(concurrency.max(1))
        .boxed()
}

/// GETs an object with its `x-amz-meta-signature`, retrying transport faults (body included);
/// `Ok(None)` when it does not exist.
async fn get(
    store: &dyn ObjectStore,
    retry: RetryPolicy,
    key: &str,
) -> Result<Option<(bytes::Bytes, Option<String>)>, String> {
    let path = store_path(key);
    let got = retry
        .run(|| async {
            let got = store.get(&path).await?;
            let signature = got
                .attributes
                .get(&Attribute::Metadata("signature".into()))
                .map(|v| v.to_string());
            Ok((got.bytes().await?, signature))
        })
        .await;
    match got {
        Ok(got) => Ok(Some(got)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.fetch_reason()),
    }
}
