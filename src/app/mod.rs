//! The application layer: what each `keyrevoke` command does.

pub mod demo;
pub mod escalation;
pub mod exchanges;
pub mod exit;
pub mod panic;
pub mod plan;
pub mod progress_view;
pub mod registry;
pub mod report;
pub mod report_command;
pub mod revoke;
pub mod rotate;
pub mod source;
pub mod summary;
pub mod worker;
