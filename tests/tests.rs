//! One integration-test binary (each file under tests/ would link everything again).

mod util;

mod architecture;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod control_scenarios;
mod controls;
mod detect;
mod detect_cases;
mod detection_agreement;
mod dialect;
mod dialect_answers;
mod engine;
mod enrich;
mod fault_proxy;
mod faults;
mod hostile;
mod lake;
mod lake_compact;
mod least_privilege;
mod lineage;
mod mutations;
mod report;
mod report_html;
mod report_ocsf;
mod s3;
mod samples;
mod sigma_agreement;
mod snapshot;
mod verify;
