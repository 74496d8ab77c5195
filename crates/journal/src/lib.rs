//! Durable job state for keyrevoke: SQLite (WAL) and PostgreSQL.
//!
//! Both engines implement [`keyrevoke_core::store::JobStore`]:
//!
//! - [`SqliteJournal`]: one file per job, one worker process. The default.
//! - [`PgJournal`]: many workers on many machines share one job through
//!   `FOR UPDATE SKIP LOCKED` leases; a dead worker's leases expire and are
//!   taken over.
//!
//! [`open_journal`] picks one from a command-line spec. Neither engine ever
//! receives a secret: keys are known by fingerprint and masked form only.
//! `record` is group-committed on both: concurrent callers share one
//! durable commit ([`CommitStats`] shows how many).

mod bench;
mod codec;
mod group_commit;
mod postgres;
mod reconnecting;
mod schema;
mod spec;
mod sqlite;
mod test_server;
#[cfg(test)]
mod test_support;

pub use bench::{bench_transitions, try_bench_transitions};
pub use codec::DEFAULT_LEASE;
pub use group_commit::CommitStats;
pub use postgres::PgJournal;
pub use reconnecting::{OUTAGE_PATIENCE, Reconnecting};
pub use schema::SCHEMA_VERSION;
pub use spec::{JournalSpec, open_journal};
pub use sqlite::SqliteJournal;
pub use test_server::{TEST_PG_URL_VAR, test_pg_url};
