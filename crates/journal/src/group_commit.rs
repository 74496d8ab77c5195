//! Group commit for [`JobStore::record`](keyrevoke_core::store::JobStore::record).
//!
//! A durable commit costs an fsync (SQLite, `synchronous=FULL`) or a WAL
//! flush and a round trip (PostgreSQL): a few milliseconds that would cap
//! the executor at a few hundred transitions per second if every caller
//! committed alone. Instead every caller hands its transition to one writer
//! task and waits; the writer takes everything that queued up meanwhile,
//! applies it in one transaction, commits once and then answers each waiter.
//! The more callers wait, the bigger the batch: throughput grows with
//! concurrency while each caller still returns only once its change is
//! durable.

use async_trait::async_trait;
use keyrevoke_core::store::{EntryId, StoreError, Transition};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Most transitions one transaction takes; bounds its memory and latency.
const MAX_BATCH: usize = 8192;
/// Waiting transitions before `record` itself waits (back-pressure).
const QUEUE_DEPTH: usize = 4 * MAX_BATCH;

/// Applies transitions to one engine.
#[async_trait]
pub trait TransitionWriter: Send + Sync + 'static {
    /// Applies `rounds` in order within ONE transaction and commits it.
    /// Within a round every id is distinct, so a round can be one set-based
    /// statement. Returns, per round, the ids that matched an entry.
    async fn commit_rounds(
        &self,
        rounds: &[Vec<Transition>],
    ) -> Result<Vec<HashSet<EntryId>>, StoreError>;
}

struct Waiter {
    transition: Transition,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Counters that show batching works (tests, diagnostics).
#[derive(Default)]
pub struct CommitStats {
    pub commits: AtomicU64,
    pub transitions: AtomicU64,
}

/// The handle callers submit through. Dropping every handle stops the
/// writer task once it has answered what it already took.
pub struct GroupCommit {
    queue: mpsc::Sender<Waiter>,
    stats: Arc<CommitStats>,
}

impl GroupCommit {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(writer: impl TransitionWriter) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(CommitStats::default());
        tokio::spawn(run_writer(writer, incoming, stats.clone()));
        GroupCommit { queue, stats }
    }

    /// Submits one transition and waits until it is committed.
    pub async fn submit(&self, transition: Transition) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Waiter { transition, done })
            .await
            .map_err(|_| StoreError::Journal("journal writer has stopped".into()))?;
        committed.await.map_err(|_| {
            StoreError::Journal("journal writer stopped before confirming a transition".into())
        })?
    }

    pub fn stats(&self) -> &CommitStats {
        &self.stats
    }
}

async fn run_writer(
    writer: impl TransitionWriter,
    mut incoming: mpsc::Receiver<Waiter>,
    stats: Arc<CommitStats>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // recv_many waits for the first waiter, then takes all that are queued.
    while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rounds, placement) = split_into_rounds(&batch);
        let outcome = writer.commit_rounds(&rounds).await;
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats
            .transitions
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        match outcome {
            Ok(landed) => {
                for (waiter, round) in batch.drain(..).zip(placement) {
                    let id = waiter.transition.id;
                    let answer = if landed.get(round).is_some_and(|ids| ids.contains(&id)) {
                        Ok(())
                    } else {
                        Err(StoreError::Journal(format!(
                            "no journal entry with id {id}"
                        )))
                    };
                    // A caller that gave up waiting is no reason to stop.
                    let _ = waiter.done.send(answer);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "journal commit failed");
                // Each waiter hears the error as it was (unavailable or not):
                // a caller may retry a commit the server never took.
                for waiter in batch.drain(..) {
                    let _ = waiter.done.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Orders a batch into rounds in which each id appears at most once, keeping
/// the order of transitions to the same id (its first in round 0, its second
/// in round 1, …). Returns the rounds and each waiter's round.
fn split_into_rounds(batch: &[Waiter]) -> (Vec<Vec<Transition>>, Vec<usize>) {
    let mut rounds: Vec<Vec<Transition>> = Vec::new();
    let mut placement = Vec::with_capacity(batch.len());
    let mut times_seen: HashMap<EntryId, usize> = HashMap::with_capacity(batch.len());
    for waiter in batch {
        let seen = times_seen.entry(waiter.transition.id).or_insert(0);
        let round = *seen;
        *seen += 1;
        if rounds.len() <= round {
            rounds.push(Vec::new());
        }
        rounds[round].push(waiter.transition.clone());
        placement.push(round);
    }
    (rounds, placement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::model::State;
    use std::sync::Mutex;

    fn transition(id: EntryId, state: State) -> Transition {
        Transition {
            id,
            state,
            route: None,
            attempts: 1,
            code: None,
            message: None,
            probe: None,
        }
    }

    fn waiter(id: EntryId, state: State) -> Waiter {
        Waiter {
            transition: transition(id, state),
            done: oneshot::channel().0,
        }
    }

    #[test]
    fn repeated_ids_go_to_later_rounds_in_order() {
        let batch = vec![
            waiter(1, State::InFlight),
            waiter(2, State::InFlight),
            waiter(1, State::Revoked),
            waiter(1, State::Failed),
        ];
        let (rounds, placement) = split_into_rounds(&batch);
        assert_eq!(placement, vec![0, 0, 1, 2]);
        assert_eq!(rounds.len(), 3);
        assert_eq!(rounds[0].len(), 2);
        assert_eq!(rounds[1][0].state, State::Revoked);
        assert_eq!(rounds[2][0].state, State::Failed);
    }

    /// Records what it was asked to commit; ids above 1000 do not exist.
    #[derive(Clone, Default)]
    struct FakeWriter {
        committed: Arc<Mutex<Vec<Transition>>>,
    }

    #[async_trait]
    impl TransitionWriter for FakeWriter {
        async fn commit_rounds(
            &self,
            rounds: &[Vec<Transition>],
        ) -> Result<Vec<HashSet<EntryId>>, StoreError> {
            // Give callers time to pile up, as a real fsync would.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let mut committed = self.committed.lock().unwrap();
            Ok(rounds
                .iter()
                .map(|round| {
                    committed.extend(round.iter().cloned());
                    round
                        .iter()
                        .map(|t| t.id)
                        .filter(|id| *id <= 1000)
                        .collect()
                })
                .collect())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_submissions_share_commits() {
        let writer = FakeWriter::default();
        let group = Arc::new(GroupCommit::spawn(writer.clone()));
        let tasks: Vec<_> = (1..=500)
            .map(|id| {
                let group = group.clone();
                tokio::spawn(async move { group.submit(transition(id, State::Revoked)).await })
            })
            .collect();
        for task in tasks {
            task.await
                .unwrap()
                .expect("every submission should be confirmed");
        }
        let commits = group.stats().commits.load(Ordering::Relaxed);
        assert_eq!(writer.committed.lock().unwrap().len(), 500);
        assert!(
            commits < 100,
            "500 concurrent submissions took {commits} commits: they are not being grouped"
        );
    }

    #[tokio::test]
    async fn an_unknown_id_fails_only_its_own_caller() {
        let group = GroupCommit::spawn(FakeWriter::default());
        let (known, unknown) = tokio::join!(
            group.submit(transition(7, State::Revoked)),
            group.submit(transition(5000, State::Revoked)),
        );
        known.expect("a known id must be confirmed");
        let err = unknown.expect_err("an unknown id must be refused");
        assert!(err.to_string().contains("5000"), "unhelpful error: {err}");
    }
}
