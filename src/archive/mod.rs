//! Where logs live: an archive location (local directory or S3) opened as an `object_store`,
//! the CloudTrail key layout, and listing only the prefixes a query can touch.

pub mod layout;
