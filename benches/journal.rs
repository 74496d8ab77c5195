//! Journal throughput: state transitions per second with many concurrent
//! callers, the executor's access pattern (`keyrevoke_journal::
//! bench_transitions`: two durable transitions per key). SQLite with
//! batched commits (target >= 20,000/s on 2 cores), and PostgreSQL when
//! `KEYREVOKE_TEST_PG_URL` names a database (`bash .ci/pg-setup.sh` starts
//! a local one and prints its URL; the runs share one job there).
//!
//! `cargo bench --bench journal`; `KEYREVOKE_BENCH_KEYS` (default 100,000)
//! and `KEYREVOKE_BENCH_CONCURRENCY` (default 1,024) change the load.

mod common;

use common::table::{Table, thousands};
use keyrevoke::core::store::JobStore;
use keyrevoke::journal::{PgJournal, SqliteJournal, try_bench_transitions};
use serde_json::json;
use std::sync::Arc;

fn main() {
    if !common::benchmarking() {
        return;
    }
    let machine = common::print_machine("journal");
    let keys = common::env_usize("KEYREVOKE_BENCH_KEYS", 100_000);
    let concurrency = common::env_usize("KEYREVOKE_BENCH_CONCURRENCY", 1024);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut measured = vec![("sqlite", runtime.block_on(sqlite_rate(keys, concurrency)))];
    match std::env::var("KEYREVOKE_TEST_PG_URL") {
        Ok(url) => measured.push((
            "postgres",
            runtime.block_on(postgres_rate(&url, keys, concurrency)),
        )),
        Err(_) => println!("postgres: skipped: set KEYREVOKE_TEST_PG_URL"),
    }

    let mut table = Table::new(&["journal", "keys", "tasks", "transitions/s"]);
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for (journal, rate) in measured {
        match rate {
            Ok(rate) => {
                table.row(vec![
                    journal.to_string(),
                    thousands(keys as u64),
                    thousands(concurrency as u64),
                    thousands(rate as u64),
                ]);
                results.push(json!({
                    "journal": journal,
                    "keys": keys,
                    "tasks": concurrency,
                    "transitions_per_s": rate,
                }));
            }
            Err(e) => failures.push(format!("{journal}: {e}")),
        }
    }
    println!();
    table.print();
    println!("target: SQLite >= 20,000 transitions/s");
    common::write_results(
        "journal",
        &json!({ "machine": machine, "results": results, "failures": failures }),
    );
    common::finish(&failures);
}

/// A fresh SQLite journal in a temp dir.
async fn sqlite_rate(keys: usize, concurrency: usize) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let journal = SqliteJournal::open(&dir.path().join("journal.sqlite"))
        .await
        .map_err(|e| e.to_string())?;
    let store: Arc<dyn JobStore> = Arc::new(journal);
    try_bench_transitions(store, keys, concurrency)
        .await
        .map_err(|e| e.to_string())
}

/// Every run uses the same job, so repeated runs leave one job's rows
/// behind, not one job per run (the journal offers no way to delete a job).
/// Each run enqueues keys of its own and claims only those, so the rows of
/// earlier runs, all revoked, are never touched again.
const PG_JOB: &str = "keyrevoke-bench-transitions";

async fn postgres_rate(url: &str, keys: usize, concurrency: usize) -> Result<f64, String> {
    let journal = PgJournal::connect(url, PG_JOB)
        .await
        .map_err(|e| e.to_string())?;
    try_bench_transitions(Arc::new(journal), keys, concurrency)
        .await
        .map_err(|e| e.to_string())
}
