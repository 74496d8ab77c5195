//! keyrevoke: neutralize exchange API keys in bulk, at each exchange's own
//! rate limits, with a durable journal and a tamper-evident audit trail.
//!
//! This facade re-exports the workspace's crates and holds the application
//! layer the `keyrevoke` binary runs: planning, the revoke run, reports.

pub use keyrevoke_audit as audit;
pub use keyrevoke_core as core;
pub use keyrevoke_executor as executor;
pub use keyrevoke_journal as journal;
pub use keyrevoke_sim as sim;

pub mod app;
