//! The executor: runs a job's keys through their connectors.
//!
//! One lane per exchange claims keys from the journal in fair (rank) order
//! and works on a bounded number at once, so a slow or banned exchange never
//! holds up the others. Each key walks its connector's routes, strongest
//! first; each attempt spends rate-limit budget first, is journaled as
//! in flight before it is sent, audited when it returns, and retried with
//! backoff when the failure allows. The executor knows no HTTP detail of
//! any exchange.

pub mod backoff;
pub mod calls;
pub mod discover;
pub mod limits;
pub mod pauses;
pub mod progress;
mod send;
mod spacing;
pub mod triage;
mod work;

use backoff::Backoff;
use keyrevoke_core::config::{Config, RetrySettings};
use keyrevoke_core::store::JobEntry;
use keyrevoke_core::{AuditSink, Connector, EntryId, ExchangeId, JobStore, KeyJob, Operation};
use limits::ExchangeLimits;
use progress::Progress;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
pub use tokio_util::sync::CancellationToken;

/// Reads a journal entry's key again, secrets and all, from the inventory.
pub trait KeySource: Send + Sync {
    fn load(&self, entry: &JobEntry) -> Result<KeyJob, String>;
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// Requests in flight across all exchanges.
    pub concurrency: usize,
    /// Keys worked on at once per exchange.
    pub per_exchange_concurrency: BTreeMap<ExchangeId, usize>,
    pub default_per_exchange: usize,
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Respect the exchanges' documented limits (off only for benchmarks
    /// against a simulator with limits off).
    pub rate_limits: bool,
    /// Probe every key first and send fund-moving keys first
    /// (`revoke --triage`, see [`triage`]).
    pub triage: bool,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let RetrySettings {
            max_attempts,
            base_delay_ms,
            max_delay_ms,
            ..
        } = config.retry;
        Settings {
            concurrency: config.executor.concurrency,
            per_exchange_concurrency: config
                .exchanges
                .iter()
                .filter_map(|(x, s)| s.concurrency.map(|c| (*x, c)))
                .collect(),
            default_per_exchange: config.executor.per_exchange_concurrency,
            max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(base_delay_ms),
                cap: Duration::from_millis(max_delay_ms),
            },
            rate_limits: true,
            triage: false,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Every key reached a terminal outcome.
    Finished,
    /// Stopped on request; the journal resumes it.
    Interrupted,
    /// The journal or the audit could not be written: stopped, fail closed.
    Fatal(String),
}

/// Why a key's work stopped before an outcome.
#[derive(Debug)]
pub(crate) enum Stop {
    Cancelled,
    Fatal(String),
    /// The key's next route spends an account another worker holds: the
    /// key was moved to that account in the journal, for that worker.
    HandedBack,
}

impl From<keyrevoke_core::StoreError> for Stop {
    fn from(e: keyrevoke_core::StoreError) -> Self {
        Stop::Fatal(e.to_string())
    }
}

pub struct Executor {
    connectors: BTreeMap<ExchangeId, Arc<dyn Connector>>,
    /// Each exchange's connector once per egress address.
    senders: BTreeMap<ExchangeId, Arc<[Arc<dyn Connector>]>>,
    limits: BTreeMap<ExchangeId, Arc<ExchangeLimits>>,
    store: Arc<dyn JobStore>,
    audit: Arc<dyn AuditSink>,
    source: Arc<dyn KeySource>,
    settings: Settings,
    in_flight: Semaphore,
    progress: Arc<Progress>,
    cancel: CancellationToken,
    fatal: Mutex<Option<String>>,
    /// Entries being worked on: their leases are renewed, and a claim that
    /// returns one again (an expired lease) is ignored.
    working: Mutex<HashSet<EntryId>>,
    /// The order of writes under triage, per exchange.
    funds_first: BTreeMap<ExchangeId, triage::FundsFirst>,
}

/// How often leases of entries still being worked on are renewed; well
/// inside the journal's lease (60 s).
const LEASE_RENEWAL: Duration = Duration::from_secs(15);

/// A lane claims what it can finish in this long at the pace it keeps.
const CLAIM_HORIZON: Duration = Duration::from_secs(2);

/// Most keys a lane holds at any pace: bounds a lease-holder's share.
const MAX_HELD: usize = 4096;

/// How many keys a lane should hold (waiting or being worked on): its first
/// claim fills its width; after that, what it finished per second so far
/// times [`CLAIM_HORIZON`]. The pace is whatever bound this worker (the
/// exchange's limits for its addresses and accounts, the network, the
/// journal), measured rather than predicted.
struct ClaimSizer {
    started: std::time::Instant,
    finished: u64,
    first: usize,
}

impl ClaimSizer {
    fn new(width: usize) -> ClaimSizer {
        ClaimSizer {
            started: std::time::Instant::now(),
            finished: 0,
            first: width,
        }
    }

    fn finished_one(&mut self) {
        self.finished += 1;
    }

    fn target(&self) -> usize {
        self.target_after(self.started.elapsed())
    }

    fn target_after(&self, elapsed: Duration) -> usize {
        if elapsed < Duration::from_secs(1) || self.finished == 0 {
            return self.first;
        }
        let pace = self.finished as f64 / elapsed.as_secs_f64();
        ((pace * CLAIM_HORIZON.as_secs_f64()).ceil() as usize).clamp(1, MAX_HELD)
    }
}

/// The largest weight each tier of a connector is ever charged at once.
fn max_weights(conn: &dyn Connector) -> HashMap<&'static str, u32> {
    let mut max = HashMap::new();
    for op in Operation::all() {
        for c in conn.charges(op) {
            let e = max.entry(c.tier).or_insert(1);
            *e = (*e).max(c.weight);
        }
    }
    max
}

/// Everything an executor is built from.
/// The rate-limit budgets, pauses and breakers of one run, shared by every
/// executor the run builds (a panic's listings, then its revocations, then
/// its own keys; a rotation's calls, then its deletes). What one spent, or
/// was told to stop for, holds for the next: work handed from one executor
/// to the next never starts on a fresh budget the exchange does not see.
#[derive(Clone, Default)]
pub struct Budgets(Arc<Mutex<BTreeMap<ExchangeId, Arc<ExchangeLimits>>>>);

impl Budgets {
    /// The exchange's budgets: those an earlier executor of the run used,
    /// else `build`'s, kept for the next. Budgets kept for another number
    /// of egress addresses are built again (each address has its own IP
    /// budgets).
    fn of(
        &self,
        exchange: ExchangeId,
        addresses: usize,
        build: impl FnOnce() -> ExchangeLimits,
    ) -> Arc<ExchangeLimits> {
        let mut held = self.0.lock().unwrap();
        match held.get(&exchange) {
            Some(kept) if kept.egress_count() == addresses.max(1) => kept.clone(),
            _ => {
                let built = Arc::new(build().with_egress(addresses));
                held.insert(exchange, built.clone());
                built
            }
        }
    }
}

pub struct Parts<'a> {
    pub connectors: BTreeMap<ExchangeId, Arc<dyn Connector>>,
    /// An exchange's connector once per egress address (its client bound
    /// to that address), when it sends from several; an exchange not named
    /// sends through its one connector.
    pub egress: BTreeMap<ExchangeId, Vec<Arc<dyn Connector>>>,
    pub config: &'a Config,
    pub settings: Settings,
    pub store: Arc<dyn JobStore>,
    pub audit: Arc<dyn AuditSink>,
    pub source: Arc<dyn KeySource>,
    pub progress: Arc<Progress>,
    pub cancel: CancellationToken,
    /// The run's budgets (`Budgets::default()` for an executor of its own).
    pub budgets: Budgets,
}

impl Executor {
    pub fn new(parts: Parts<'_>) -> Executor {
        let Parts {
            connectors,
            mut egress,
            config,
            settings,
            store,
            audit,
            source,
            progress,
            cancel,
            budgets,
        } = parts;
        let limits: BTreeMap<ExchangeId, Arc<ExchangeLimits>> = connectors
            .iter()
            .map(|(x, conn)| {
                let xs = config.exchange(*x);
                let addresses = egress.get(x).map_or(1, Vec::len);
                let l = budgets.of(*x, addresses, || {
                    ExchangeLimits::new(
                        conn.tiers(),
                        &xs.limits,
                        &max_weights(conn.as_ref()),
                        xs.rate_limit_scale.unwrap_or(limits::DEFAULT_SCALE),
                        settings.rate_limits,
                        config.retry.breaker_threshold,
                        Duration::from_millis(config.retry.breaker_cooldown_ms),
                    )
                });
                (*x, l)
            })
            .collect();
        let senders = connectors
            .iter()
            .map(|(x, conn)| {
                let set: Arc<[Arc<dyn Connector>]> = match egress.remove(x) {
                    Some(set) if !set.is_empty() => set.into(),
                    _ => Arc::new([conn.clone()]),
                };
                (*x, set)
            })
            .collect();
        let funds_first = connectors
            .keys()
            .map(|x| (*x, triage::FundsFirst::default()))
            .collect();
        Executor {
            connectors,
            senders,
            limits,
            store,
            audit,
            source,
            in_flight: Semaphore::new(settings.concurrency.max(1)),
            settings,
            progress,
            cancel,
            fatal: Mutex::new(None),
            working: Mutex::new(HashSet::new()),
            funds_first,
        }
    }

    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Work until every claimable key has an outcome, or until cancelled.
    pub async fn run(self: Arc<Self>) -> RunEnd {
        let exchanges = match self.store.exchanges_with_work().await {
            Ok(x) => x,
            Err(e) => return RunEnd::Fatal(e.to_string()),
        };
        let housekeeping = {
            let me = self.clone();
            tokio::spawn(async move {
                // Well inside the journal's lease, however short it is set.
                let every = me
                    .store
                    .lease()
                    .map_or(LEASE_RENEWAL, |lease| LEASE_RENEWAL.min(lease / 4))
                    .max(Duration::from_millis(100));
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    for l in me.limits.values() {
                        l.housekeeping();
                    }
                    let ids: Vec<EntryId> = me.working.lock().unwrap().iter().copied().collect();
                    if let Err(e) = me.store.renew(&ids).await {
                        me.stop_fatal(e.to_string());
                    }
                }
            })
        };
        let mut lanes = JoinSet::new();
        for x in exchanges {
            if self.connectors.contains_key(&x) {
                lanes.spawn(self.clone().lane(x));
            }
        }
        while lanes.join_next().await.is_some() {}
        housekeeping.abort();
        if let Some(msg) = self.fatal.lock().unwrap().clone() {
            return RunEnd::Fatal(msg);
        }
        if self.cancel.is_cancelled() {
            return RunEnd::Interrupted;
        }
        RunEnd::Finished
    }

    fn stop_fatal(&self, msg: String) {
        let mut f = self.fatal.lock().unwrap();
        if f.is_none() {
            tracing::error!("stopping the run: {msg}");
            *f = Some(msg);
        }
        self.cancel.cancel();
    }

    /// One exchange's lane: claim ahead, work, repeat.
    ///
    /// Claims are write transactions (each a durable commit), so the lane
    /// claims ahead and refills only when fewer than `width` are left
    /// waiting: claiming one key each time one finished made the claim
    /// itself the bottleneck. How far ahead is what this worker can finish
    /// in the next [`CLAIM_HORIZON`] at the pace it has kept (see
    /// [`ClaimSizer`]), not a fixed chunk: the rest stays in the journal for
    /// other workers, so a second worker shares even a small job. Waiting
    /// keys are in `working`, so their leases are renewed like those being
    /// worked on.
    async fn lane(self: Arc<Self>, x: ExchangeId) {
        let width = self
            .settings
            .per_exchange_concurrency
            .get(&x)
            .copied()
            .unwrap_or(self.settings.default_per_exchange)
            .max(1);
        let mut sizer = ClaimSizer::new(width);
        let mut waiting: VecDeque<JobEntry> = VecDeque::new();
        let mut tasks = JoinSet::new();
        let mut unfinished: Vec<i64> = Vec::new();
        // Set when a claim came back short: claiming again before the lane
        // runs dry would only find what other workers hold.
        let mut drained = false;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            let held = waiting.len() + tasks.len();
            let target = sizer.target();
            if !drained && waiting.len() < width && held < target {
                match self.claim_into(x, target - held, &mut waiting).await {
                    Ok(short) => drained = short,
                    Err(e) => {
                        self.stop_fatal(e.to_string());
                        break;
                    }
                }
            }
            while tasks.len() < width
                && let Some(entry) = waiting.pop_front()
            {
                let me = self.clone();
                tasks.spawn(async move {
                    let id = entry.id;
                    let result = me.work_on(entry).await;
                    me.working.lock().unwrap().remove(&id);
                    match result {
                        Ok(()) => None,
                        Err(Stop::HandedBack) => {
                            // At once: the account's holder may be idle,
                            // waiting for this very key.
                            if let Err(e) = me.store.release(&[id]).await {
                                me.stop_fatal(e.to_string());
                            }
                            None
                        }
                        Err(Stop::Cancelled) => Some(id),
                        Err(Stop::Fatal(msg)) => {
                            me.stop_fatal(msg);
                            Some(id)
                        }
                    }
                });
            }
            if !tasks.is_empty() {
                tokio::select! {
                    _ = tasks.join_next() => sizer.finished_one(),
                    _ = self.cancel.cancelled() => break,
                }
                continue;
            }
            if !drained {
                continue;
            }
            // Nothing of ours is left; other workers may still hold the
            // rest of this exchange. Wait for them to finish it, or for a
            // dead worker's leases to lapse and take them over.
            match self.store.exchanges_with_work().await {
                Ok(left) if left.contains(&x) => {
                    drained = false;
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = self.cancel.cancelled() => break,
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    self.stop_fatal(e.to_string());
                    break;
                }
            }
        }
        while let Some(r) = tasks.join_next().await {
            if let Ok(Some(id)) = r {
                unfinished.push(id);
            }
        }
        unfinished.extend(waiting.drain(..).map(|e| e.id));
        {
            let mut working = self.working.lock().unwrap();
            for id in &unfinished {
                working.remove(id);
            }
        }
        if !unfinished.is_empty() {
            let _ = self.store.release(&unfinished).await;
        }
    }

    /// Claims up to `limit` entries into `waiting`; says whether the journal
    /// had fewer than asked. An entry already worked on here (its lease had
    /// lapsed) is skipped.
    async fn claim_into(
        &self,
        x: ExchangeId,
        limit: usize,
        waiting: &mut VecDeque<JobEntry>,
    ) -> Result<bool, keyrevoke_core::StoreError> {
        let batch = self.store.claim(x, limit).await?;
        let short = batch.len() < limit;
        let mut working = self.working.lock().unwrap();
        waiting.extend(batch.into_iter().filter(|e| working.insert(e.id)));
        Ok(short)
    }

    async fn work_on(self: &Arc<Self>, entry: JobEntry) -> Result<(), Stop> {
        let senders = self.senders[&entry.exchange].clone();
        let limits = self.limits[&entry.exchange].clone();
        let job = self.source.load(&entry);
        work::Work::new(self, entry, senders, limits).run(job).await
    }
}

#[cfg(test)]
mod budgets_tests {
    use super::*;

    fn limits() -> ExchangeLimits {
        ExchangeLimits::new(
            &[],
            &BTreeMap::new(),
            &HashMap::new(),
            limits::DEFAULT_SCALE,
            true,
            5,
            Duration::from_secs(1),
        )
    }

    /// A run's second executor (a panic's revocations after its listings)
    /// spends from the first one's budgets, never from fresh ones; a
    /// different number of egress addresses needs budgets of its own.
    #[test]
    fn executors_of_one_run_share_each_exchange_s_budgets() {
        let x = ExchangeId::new("bybit");
        let run = Budgets::default();
        let listings = run.of(x, 2, limits);
        let revocations = run.of(x, 2, || panic!("built again"));
        assert!(Arc::ptr_eq(&listings, &revocations));
        let other_run = Budgets::default().of(x, 2, limits);
        assert!(!Arc::ptr_eq(&listings, &other_run));
        let one_address = run.of(x, 1, limits);
        assert_eq!(one_address.egress_count(), 1);
        assert!(!Arc::ptr_eq(&listings, &one_address));
    }
}

#[cfg(test)]
mod claim_sizer_tests {
    use super::*;

    #[test]
    fn a_lane_claims_its_width_first_then_what_its_pace_finishes_in_the_horizon() {
        let mut sizer = ClaimSizer::new(8);
        assert_eq!(sizer.target_after(Duration::from_millis(500)), 8);
        for _ in 0..30 {
            sizer.finished_one();
        }
        // 30 keys in 3 s: 10 a second, 20 in the two-second horizon.
        assert_eq!(sizer.target_after(Duration::from_secs(3)), 20);
        // A slow lane holds little: the rest stays for other workers.
        assert_eq!(sizer.target_after(Duration::from_secs(300)), 1);
        for _ in 0..1_000_000 {
            sizer.finished_one();
        }
        assert_eq!(sizer.target_after(Duration::from_secs(1)), MAX_HELD);
    }
}
