//! # trailscope
//!
//! SQL over an AWS CloudTrail log archive (a local copy or the S3 bucket CloudTrail delivers to),
//! with no ingestion step. The archive is read where it lies, through `object_store`; log files are
//! decoded on all cores straight into Arrow and served to an embedded Apache DataFusion engine.
//!
//! The crate is laid out the way the data flows:
//! - [`archive`]: where logs live: URL → object store, key layout, listing only the prefixes a
//!   query can touch, fetching objects, and the scan context every reader shares;
//! - [`decode`]: how bytes become Arrow: gzip, the `{"Records":[...]}` document, the fixed schema;
//! - [`time`]: user times, event times and durations, parsed one way everywhere;
//! - [`lake`]: the archive converted to Hive-partitioned Parquet (incremental, resumable);
//! - [`table`]: every DataFusion table provider (the raw archive, the lake, listings, integrity,
//!   snapshots), the one table registry, and the session with our SQL functions;
//! - [`snapshot`]: configuration snapshots (raw AWS API answers) and the facts they give;
//! - [`controls`]: the control catalog as SQL: metadata, loading, linting, running → findings;
//! - [`detect`]: Sigma detection rules compiled to SQL, correlations, one scan → hits;
//! - [`lineage`]: temporary credentials followed to their origin, as plain data;
//! - [`enrich`]: offline IP enrichment (country, ASN, AWS ranges, the user's lists), recorded;
//! - [`trace`]: who is behind a key, principal, session or event, and a key's blast radius;
//! - [`generate`]: realistic synthetic archives with signed digests, for tests and benchmarks;
//! - `cluster` (feature `cluster`): the same SQL on an Apache DataFusion Ballista cluster;
//!
//! Modules depend only downward: `error` ← [`time`] ← [`archive`] ← [`decode`] ← {[`lake`],
//! [`integrity`], [`snapshot`], [`lineage`], [`enrich`], [`generate`]} ← [`table`] ← {[`controls`],
//! [`detect`], [`trace`], `cluster`} ←
//! [`report`]; `tests/architecture.rs` enforces it. The command line is the binary's own
//! (`src/cli/`), not library API.
//!
//! ```
//! use trailscope::archive::layout::{parse_key, ObjectKind};
//! let key = parse_key("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/\
//!     111122223333_CloudTrail_us-east-1_20240501T1005Z_abcdEFGH12345678.json.gz").unwrap();
//! assert_eq!(key.kind, ObjectKind::Log);
//! assert_eq!(key.account_id, "111122223333");
//! ```

pub mod archive;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod controls;
pub mod decode;
pub mod detect;
pub mod enrich;
pub mod error;
pub mod generate;
pub mod integrity;
pub mod lake;
pub mod lineage;
pub mod output;
pub mod report;
pub mod snapshot;
pub mod table;
pub mod time;
pub mod trace;

pub use error::{Error, Input, Result};

/// Called first by the binary (and by the in-process benchmarks, so they measure what it does),
/// before any thread exists.
///
/// glibc's allocator gives threads that contend their own arenas (up to eight per core), keeps
/// what they free there for reuse, and after each large free raises the size below which it
/// allocates from arenas (up to 32 MiB). Batches of tens of MiB then stay in the arenas of the
/// threads that decoded them, and a command's peak grows with every batch it has held: over the
/// hostile benchmark's archive `convert` peaked at 1.0 GB, 0.28 GB with these settings. One
/// arena per core, and buffers of 1 MiB or more always mapped (so given back when freed).
/// Setting that threshold also fixes the one at which a heap's free top is given back (128 KiB
/// unless set): every free of a few hundred KiB then returned pages that the next batch faulted
/// in again, a fifth of a short lake query's time (`count by eventname` at 5M events: 0.13-0.14
/// s, 0.09-0.11 s keeping 4 or 16 MiB). glibc's own `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_` or
/// `MALLOC_TRIM_THRESHOLD_`, when set, leave it all as glibc has it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn bound_allocator() {
    if [
        "MALLOC_ARENA_MAX",
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
    {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
    // SAFETY: mallopt only sets allocator parameters; callers call it before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn bound_allocator() {}
