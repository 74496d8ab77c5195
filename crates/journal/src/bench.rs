//! Measures how many `record` calls per second a journal sustains with many
//! concurrent callers, the executor's access pattern.

use keyrevoke_core::exchange::ExchangeId;
use keyrevoke_core::model::{Action, Route, State};
use keyrevoke_core::secret::{Fingerprint, mask_key};
use keyrevoke_core::store::{EntryId, JobStore, NewEntry, SourceRef, StoreError, Transition};
use std::sync::Arc;
use std::time::Instant;

const ENQUEUE_BATCH: usize = 5000;
const CLAIM_BATCH: usize = 10_000;
const BENCH_EXCHANGE: ExchangeId = ExchangeId::new("bybit");

/// Enqueues `n` fresh keys, then has `concurrency` tasks record two
/// transitions per key (`in_flight`, then `revoked`) and returns the
/// transitions per second of that second phase.
///
/// # Panics
/// If the store fails; use [`try_bench_transitions`] to get the error.
pub async fn bench_transitions(store: Arc<dyn JobStore>, n: usize, concurrency: usize) -> f64 {
    try_bench_transitions(store, n, concurrency)
        .await
        .unwrap_or_else(|e| panic!("transition benchmark failed: {e}"))
}

/// [`bench_transitions`], returning the store's error instead of panicking.
pub async fn try_bench_transitions(
    store: Arc<dyn JobStore>,
    n: usize,
    concurrency: usize,
) -> Result<f64, StoreError> {
    let (run, ids) = enqueue_and_claim(store.as_ref(), n).await?;
    if ids.len() != n {
        return Err(StoreError::Journal(format!(
            "benchmark enqueued {n} keys but claimed {}",
            ids.len()
        )));
    }
    let ids = Arc::new(ids);
    let concurrency = concurrency.clamp(1, ids.len());
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let store = store.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                for &id in ids.iter().skip(worker).step_by(concurrency) {
                    store.record(transition(id, State::InFlight)).await?;
                    store.record(transition(id, State::Revoked)).await?;
                }
                Ok::<(), StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| StoreError::Journal(format!("benchmark task failed: {e}")))??;
    }
    let seconds = started.elapsed().as_secs_f64();
    // A rate counts only if every transition landed.
    let landed = store
        .list(BENCH_EXCHANGE, State::Revoked)
        .await?
        .iter()
        .filter(|e| e.label.as_deref() == Some(run.as_str()))
        .count();
    if landed != ids.len() {
        return Err(StoreError::Journal(format!(
            "benchmark recorded {} keys revoked but the journal holds {landed}",
            ids.len()
        )));
    }
    Ok((2 * ids.len()) as f64 / seconds.max(f64::EPSILON))
}

/// Enqueues `n` keys unique to this run (labelled with the returned run
/// name) and claims them, as a worker would.
async fn enqueue_and_claim(
    store: &dyn JobStore,
    n: usize,
) -> Result<(String, Vec<EntryId>), StoreError> {
    let run = format!("bench-{:016x}", rand::random::<u64>());
    let pass = store.begin_pass().await?;
    let mut start = 0;
    while start < n {
        let end = (start + ENQUEUE_BATCH).min(n);
        let batch: Vec<NewEntry> = (start..end).map(|i| bench_entry(&run, i)).collect();
        store.enqueue(pass, &batch).await?;
        start = end;
    }
    // Claim until nothing is left; keep this run's keys, hand back others'.
    let label = Some(run.clone());
    let mut ours = Vec::with_capacity(n);
    let mut theirs = Vec::new();
    loop {
        let claimed = store.claim(BENCH_EXCHANGE, CLAIM_BATCH).await?;
        if claimed.is_empty() {
            break;
        }
        for entry in claimed {
            if entry.label == label {
                ours.push(entry.id);
            } else {
                theirs.push(entry.id);
            }
        }
    }
    store.release(&theirs).await?;
    Ok((run, ours))
}

fn bench_entry(run: &str, i: usize) -> NewEntry {
    let key = format!("{run}-key-{i:010}");
    NewEntry {
        rate_account: None,
        exchange: BENCH_EXCHANGE,
        fingerprint: Fingerprint::of(&key),
        masked: mask_key(&key),
        label: Some(run.to_string()),
        action: Action::Revoke,
        rank: i as u32,
        source: SourceRef {
            offset: i as u64 * 64,
            len: 64,
            line: i as u64 + 2,
        },
    }
}

fn transition(id: EntryId, state: State) -> Transition {
    Transition {
        id,
        state,
        route: Some(Route::DeleteSelf),
        attempts: 1,
        code: None,
        message: None,
        probe: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PgJournal, SqliteJournal};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_benchmark_records_two_transitions_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(&dir.path().join("bench.db"))
            .await
            .unwrap();
        let store: Arc<dyn JobStore> = Arc::new(journal);
        let rate = bench_transitions(store.clone(), 1000, 32).await;
        assert!(rate.is_finite() && rate > 0.0, "nonsense rate {rate}");
        let counts = store.counts().await.unwrap();
        assert_eq!(
            counts.by_exchange["bybit"].get("revoked"),
            Some(&1000),
            "every benchmark key must end revoked: {counts:?}"
        );
    }

    /// The journal's throughput target: 20,000 durable transitions per
    /// second on 2 cores, SQLite with `synchronous=FULL`.
    /// `cargo test --release -p keyrevoke-journal -- --ignored --nocapture sustains`
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark: run in release mode"]
    async fn sqlite_sustains_twenty_thousand_transitions_per_second() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(&dir.path().join("bench.db"))
            .await
            .unwrap();
        let store: Arc<dyn JobStore> = Arc::new(journal);
        let rate = bench_transitions(store, 100_000, 256).await;
        println!("sqlite: {rate:.0} transitions/s (100,000 keys, 256 tasks)");
        assert!(
            rate >= 20_000.0,
            "sqlite journal managed only {rate:.0} transitions/s"
        );
    }

    /// The same measurement on PostgreSQL (needs `KEYREVOKE_TEST_PG_URL`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark: run in release mode"]
    async fn postgres_transitions_per_second() {
        let Some(url) = crate::test_pg_url("postgres_transitions_per_second") else {
            return;
        };
        let job = format!("bench-{:016x}", rand::random::<u64>());
        let journal = Arc::new(PgJournal::connect(&url, &job).await.unwrap());
        let rate = bench_transitions(journal.clone(), 100_000, 256).await;
        println!("postgres: {rate:.0} transitions/s (100,000 keys, 256 tasks)");
        journal.delete_job().await.unwrap();
    }
}
