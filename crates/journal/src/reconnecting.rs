//! A shared journal that rides out its server's restarts: a call that fails
//! because the server cannot be reached ([`StoreError::Unavailable`]) is
//! tried again, with backoff, until the server is back or
//! [`OUTAGE_PATIENCE`] has passed. Every call is safe to repeat: enqueue is
//! idempotent on (exchange, key, action), a transition sets a state, claims
//! and leases expire on their own. Workers then go on where they were;
//! nothing is lost, nothing is sent twice (a lease that lapsed meanwhile is
//! taken over with a probe first, as after a worker's death).

use async_trait::async_trait;
use keyrevoke_core::exchange::ExchangeId;
use keyrevoke_core::model::State;
use keyrevoke_core::store::{
    Counts, EnqueueStats, EntryId, JobEntry, JobStore, KeyTiming, NewEntry, StoreError, Transition,
};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a worker waits for its journal's server before it stops: long
/// enough for a restart or a failover, short enough that a database gone
/// for good is reported.
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(300);

const FIRST_RETRY: Duration = Duration::from_millis(200);
const LONGEST_RETRY: Duration = Duration::from_secs(5);

pub struct Reconnecting {
    inner: Arc<dyn JobStore>,
    patience: Duration,
}

impl Reconnecting {
    pub fn new(inner: Arc<dyn JobStore>, patience: Duration) -> Reconnecting {
        Reconnecting { inner, patience }
    }

    async fn again<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut deadline = None;
        let mut delay = FIRST_RETRY;
        loop {
            match call().await {
                Err(StoreError::Unavailable(why)) => {
                    let until = *deadline.get_or_insert_with(|| {
                        tracing::warn!("journal unavailable, retrying: {why}");
                        Instant::now() + self.patience
                    });
                    if Instant::now() >= until {
                        return Err(StoreError::Unavailable(format!(
                            "{why} (still unreachable after {} s)",
                            self.patience.as_secs()
                        )));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(LONGEST_RETRY);
                }
                other => {
                    if deadline.is_some() && other.is_ok() {
                        tracing::warn!("journal reachable again");
                    }
                    return other;
                }
            }
        }
    }
}

#[async_trait]
impl JobStore for Reconnecting {
    async fn enqueue(&self, pass: i64, batch: &[NewEntry]) -> Result<EnqueueStats, StoreError> {
        self.again(|| self.inner.enqueue(pass, batch)).await
    }

    async fn begin_pass(&self) -> Result<i64, StoreError> {
        self.again(|| self.inner.begin_pass()).await
    }

    async fn claim(&self, exchange: ExchangeId, limit: usize) -> Result<Vec<JobEntry>, StoreError> {
        self.again(|| self.inner.claim(exchange, limit)).await
    }

    async fn record(&self, t: Transition) -> Result<(), StoreError> {
        self.again(|| self.inner.record(t.clone())).await
    }

    async fn release(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        self.again(|| self.inner.release(ids)).await
    }

    async fn renew(&self, ids: &[EntryId]) -> Result<(), StoreError> {
        self.again(|| self.inner.renew(ids)).await
    }

    async fn exchanges_with_work(&self) -> Result<Vec<ExchangeId>, StoreError> {
        self.again(|| self.inner.exchanges_with_work()).await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.again(|| self.inner.counts()).await
    }

    async fn list(&self, exchange: ExchangeId, state: State) -> Result<Vec<JobEntry>, StoreError> {
        self.again(|| self.inner.list(exchange, state)).await
    }

    async fn planned_inventory(&self) -> Result<Option<String>, StoreError> {
        self.again(|| self.inner.planned_inventory()).await
    }

    async fn set_planned_inventory(&self, sha256: &str) -> Result<(), StoreError> {
        self.again(|| self.inner.set_planned_inventory(sha256))
            .await
    }

    fn lease(&self) -> Option<Duration> {
        self.inner.lease()
    }

    async fn put_record(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.again(|| self.inner.put_record(name, value)).await
    }

    async fn records(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.again(|| self.inner.records(prefix)).await
    }

    async fn hold_exclusively(&self) -> Result<bool, StoreError> {
        // Not retried: a hold taken on a connection that then broke is
        // gone, and a second try would report another holder as this one.
        self.inner.hold_exclusively().await
    }

    async fn timings(&self) -> Result<Vec<KeyTiming>, StoreError> {
        self.again(|| self.inner.timings()).await
    }
}
