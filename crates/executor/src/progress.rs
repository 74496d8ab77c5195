//! Live counts per exchange, read by the progress display and the summary.

use keyrevoke_core::{ExchangeId, Outcome};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct ExchangeProgress {
    pub total: AtomicU64,
    pub done: AtomicU64,
    pub revoked: AtomicU64,
    pub disabled: AtomicU64,
    pub already_dead: AtomicU64,
    pub escalated: AtomicU64,
    pub failed: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl ExchangeProgress {
    pub fn finished(&self, outcome: Outcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Revoked => &self.revoked,
            Outcome::Disabled => &self.disabled,
            Outcome::AlreadyDead => &self.already_dead,
            Outcome::Escalated => &self.escalated,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Progress of a run: one entry per exchange with work.
#[derive(Default)]
pub struct Progress {
    pub exchanges: BTreeMap<ExchangeId, ExchangeProgress>,
}

impl Progress {
    /// `totals`: keys left to do per exchange when the run starts.
    pub fn new(totals: &BTreeMap<ExchangeId, u64>) -> Self {
        let exchanges = totals
            .iter()
            .map(|(x, n)| {
                let p = ExchangeProgress::default();
                p.total.store(*n, Ordering::Relaxed);
                (*x, p)
            })
            .collect();
        Progress { exchanges }
    }

    pub fn of(&self, x: ExchangeId) -> Option<&ExchangeProgress> {
        self.exchanges.get(&x)
    }
}
