//! Detection rules: Sigma rules compiled to SQL over `cloudtrail`, run in one scan, and hits
//! that cite the log file of every event.
//!
//! A rule is one more SQL question, like a control: [`rule`] reads the YAML, [`compile`] turns
//! a detection into a boolean over the table's columns (field names through [`fields`], values
//! through [`pattern`], the condition through [`condition`]), [`correlate`] turns correlations
//! into windowed SQL (which [`windows`] evaluates in one sweep when `detect` runs them), [`load`] reads packs and counts what loaded, was skipped or failed, and
//! [`run`] plans every rule, decodes the period once and collects [`run::Hit`]s.
//!
//! Adding a rule to trailscope's own pack: a Sigma file under `queries/detections/<tactic>/`
//! (logsource aws/cloudtrail, an id, an author, ATT&CK tags), a firing event and a near miss in
//! `tests/detect.rs`, and `trailscope lint` clean.

pub mod compile;
pub mod condition;
pub mod correlate;
pub mod fields;
pub mod html;
pub mod lint;
pub mod load;
pub mod matches;
pub mod pattern;
pub mod rule;
pub mod run;
pub mod windows;

pub use load::{Compiled, RuleSet};
pub use rule::{Level, Rule};
pub use run::{Hit, Outcome, detect};

/// The event columns every rule's query returns, as SQL ...
pub const EVENT_COLUMNS: &str = "eventtime, eventname, eventsource, useridentity.arn AS principal, \
sourceipaddress, useragent, account_id, awsregion AS region, eventid, log_file";
/// ... and their names in the result.
pub const EVENT_COLUMN_NAMES: [&str; 10] = [
    "eventtime",
    "eventname",
    "eventsource",
    "principal",
    "sourceipaddress",
    "useragent",
    "account_id",
    "region",
    "eventid",
    "log_file",
];
