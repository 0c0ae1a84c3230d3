//! Trail forensics: log file integrity validation (`verify`) and delivery gap analysis (`gaps`).
//!
//! One job per file, in data-flow order: [`digest`] (the digest document and the string CloudTrail
//! signs), [`keys`] (public keys: keys file, DER, fingerprints, `ListPublicKeys`), [`chain`] (the
//! pure chain walk: links, hashes, signatures, missing digests), [`logs`] (log file hashing in one
//! pass), [`verify`] (orchestration over the object store) and [`gaps`] (delivery gaps and their
//! classification). Nothing here writes to the archive.

pub mod chain;
mod coverage;
pub mod digest;
pub mod gaps;
pub mod keys;
pub mod logs;
pub mod tail;
pub mod verify;

pub use chain::{DigestCheck, DigestStatus, Range};
pub use gaps::{Gap, GapClass, GapOptions, GapReport, StopEventSource, gaps};
pub use keys::{KeyRing, PublicKey};
pub use logs::{LogFileCheck, LogFileStatus};
pub use verify::{
    DigestReadings, KeySource, VerifyOptions, VerifyReport, digest_inventory, load_signatures,
    read_digests_once, verify,
};
