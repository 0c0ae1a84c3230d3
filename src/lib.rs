//! # trailscope
//!
//! SQL over an AWS CloudTrail log archive (a local copy or the S3 bucket CloudTrail delivers to),
//! with no ingestion step. The archive is read where it lies, through `object_store`; log files are
//! decoded on all cores straight into Arrow and served to an embedded Apache DataFusion engine.
//!
//! The crate is laid out the way the data flows:
//! - [`archive`]: where logs live: URL → object store, key layout, listing only the prefixes a
//!   query can touch;
//! - [`decode`]: how bytes become Arrow: gzip, the `{"Records":[...]}` document, the fixed schema;
//! - [`lake`]: the archive converted to Hive-partitioned Parquet (incremental, resumable), and
//!   the `cloudtrail` provider that reads it plus the raw objects it does not hold yet;
//! - [`table`]: DataFusion table providers (`cloudtrail`, `log_files`, `read_errors`) and the
//!   session with our SQL functions;
//! - [`snapshot`]: configuration snapshots (raw AWS API answers) and the facts they give;
//! - [`controls`]: the control catalog as SQL: metadata, loading, linting, running → findings;
//! - [`generate`]: realistic synthetic archives with signed digests, for tests and benchmarks;
//! - `cluster` (feature `cluster`): the same SQL on an Apache DataFusion Ballista cluster;
//! - [`cli`]: argument parsing and printing; it does no work of its own.
//!
//! ```
//! use trailscope::archive::layout::{parse_key, ObjectKind};
//! let key = parse_key("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/\
//!     111122223333_CloudTrail_us-east-1_20240501T1005Z_abcdEFGH12345678.json.gz").unwrap();
//! assert_eq!(key.kind, ObjectKind::Log);
//! assert_eq!(key.account_id, "111122223333");
//! ```

pub mod archive;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod controls;
pub mod decode;
pub mod error;
pub mod generate;
pub mod integrity;
pub mod lake;
pub mod report;
pub mod snapshot;
pub mod table;
pub mod time;

pub use error::{Error, Result};
