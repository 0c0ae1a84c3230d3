//! Where logs live: an archive location (local directory or S3) opened as an `object_store`,
//! the CloudTrail key layout, and listing only the prefixes a query can touch.

pub mod fetch;
pub mod folder_days;
mod inline_local_reads;
pub mod layout;
pub mod listing;
pub mod location;
mod raw_listing;
pub mod readings;
pub mod retry;
pub mod retrying_store;
pub mod source;
mod walk;

pub use fetch::{ReadError, SourceObject};
pub use folder_days::FolderDays;
pub use layout::{ObjectKind, ParsedKey, parse_key};
pub use listing::{Listing, ObjectEntry, Scope, Skipped, list_objects};
pub use location::{Location, S3Options};
pub use readings::{ContentHash, Reading, Readings, ReadingsElsewhere};
pub use retry::RetryPolicy;
pub use source::{ArchiveSource, ErrorLog, ScanStats};
