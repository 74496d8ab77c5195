//! The durable stores the executor writes to: the job journal and the audit
//! trail. Core defines the contracts; `keyrevoke-journal` and
//! `keyrevoke-audit` implement them. Neither ever receives a secret.

use crate::connector::Probe;
use crate::exchange::ExchangeId;
use crate::model::{Action, Route, State};
use crate::secret::Fingerprint;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type EntryId = i64;

/// One line of a discovery journal (`panic`): a key found (an inventory row
/// without secrets) or a page listed. JSON, never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryLine {
    Key(String),
    Page(String),
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("journal: {0}")]
    Journal(String),
    /// The journal's server cannot be reached for now (connection lost or
    /// refused, server restarting): the same call may succeed later.
    #[error("journal unavailable: {0}")]
    Unavailable(String),
    #[error("audit: {0}")]
    Audit(String),
}

/// Where a row sits in the inventory file, so that a worker can read that
/// row (and its secrets) again without keeping the inventory in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub offset: u64,
    pub len: u32,
    pub line: u64,
}

/// A row to enqueue.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub exchange: ExchangeId,
    pub fingerprint: Fingerprint,
    pub masked: String,
    pub label: Option<String>,
    pub action: Action,
    /// Position of this key among those sharing its rate-limit account:
    /// claiming in rank order interleaves accounts fairly.
    pub rank: u32,
    pub source: SourceRef,
    /// The rate-limit account this key's first request spends (a managing
    /// credential's, or the owning account's), when other keys share it;
    /// None for a key that is its own account. A shared journal leases each
    /// account to one worker at a time, so that its budget is spent by one.
    pub rate_account: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnqueueStats {
    pub inserted: u64,
    /// Rows whose key this pass had already enqueued: merged.
    pub duplicates: u64,
    /// Rows already in the journal from an earlier run of the job.
    pub resumed: u64,
}

/// One key of the job as the journal holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEntry {
    pub id: EntryId,
    pub exchange: ExchangeId,
    pub fingerprint: Fingerprint,
    pub masked: String,
    pub label: Option<String>,
    pub action: Action,
    pub state: State,
    /// The route last attempted (the winning one once terminal).
    pub route: Option<Route>,
    pub attempts: u32,
    pub code: Option<String>,
    pub message: Option<String>,
    /// The last liveness probe, as JSON ([`Probe`]).
    pub probe: Option<String>,
    pub source: SourceRef,
}

/// A state change of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub id: EntryId,
    pub state: State,
    pub route: Option<Route>,
    pub attempts: u32,
    pub code: Option<String>,
    pub message: Option<String>,
    pub probe: Option<String>,
}

impl Transition {
    pub fn probe_json(probe: &Probe) -> String {
        serde_json::to_string(probe).unwrap_or_default()
    }
}

/// When one key of the job was worked on, for reports: its first claim and
/// the moment its outcome was recorded (Unix milliseconds). Either is `None`
/// for a key not yet claimed or not finished, and `started_at` also for keys
/// finished under journal schema 1, which did not record claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyTiming {
    pub exchange: ExchangeId,
    pub fingerprint: Fingerprint,
    pub masked: String,
    pub state: State,
    pub route: Option<Route>,
    pub attempts: u32,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Counts of a job, per exchange and state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub by_exchange: BTreeMap<String, BTreeMap<String, u64>>,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Add rows to the job; idempotent on (exchange, fingerprint, action).
    /// `pass` numbers the enqueue pass so duplicates within one inventory
    /// can be told from rows an earlier run already enqueued.
    async fn enqueue(&self, pass: i64, batch: &[NewEntry]) -> Result<EnqueueStats, StoreError>;

    /// A fresh pass number for [`JobStore::enqueue`].
    async fn begin_pass(&self) -> Result<i64, StoreError>;

    /// Lease up to `limit` unfinished entries of one exchange, in rank order,
    /// to this worker. Entries leased to a live worker are skipped.
    async fn claim(&self, exchange: ExchangeId, limit: usize) -> Result<Vec<JobEntry>, StoreError>;

    /// Record a state change. Durable when it returns.
    async fn record(&self, t: Transition) -> Result<(), StoreError>;

    /// Give leases back (clean shutdown) without changing states.
    async fn release(&self, ids: &[EntryId]) -> Result<(), StoreError>;

    /// Extend this worker's leases on entries it is still working on (a key
    /// may wait longer than a lease for its rate-limit budget or a ban).
    async fn renew(&self, ids: &[EntryId]) -> Result<(), StoreError>;

    /// Exchanges with unfinished entries.
    async fn exchanges_with_work(&self) -> Result<Vec<ExchangeId>, StoreError>;

    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Entries of one exchange in one state, for reports and escalation files.
    async fn list(&self, exchange: ExchangeId, state: State) -> Result<Vec<JobEntry>, StoreError>;

    /// The SHA-256 of the inventory the job was planned from, as the last
    /// `revoke` of it recorded (None: no job by this name was planned). A
    /// worker joining the job checks its own inventory against it: rows
    /// are found by byte offset, so another file would be misread. Only a
    /// journal that workers share records it.
    async fn planned_inventory(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    /// Record the inventory the job is planned from (see
    /// [`JobStore::planned_inventory`]).
    async fn set_planned_inventory(&self, _sha256: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Record `value` under `name` for this job, durably before Ok (a
    /// rotation's steps); the last value recorded under a name wins.
    async fn put_record(&self, _name: &str, _value: &str) -> Result<(), StoreError> {
        Err(StoreError::Journal(
            "this journal keeps no named records".into(),
        ))
    }

    /// Every named record of this job whose name starts with `prefix`, by
    /// name.
    async fn records(&self, _prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(Vec::new())
    }

    /// Hold this job for this process alone until it exits (`rotate`: two
    /// runs of one job never overlap). Ok(false): another process holds
    /// it. A journal only one process can open at a time holds it already.
    async fn hold_exclusively(&self) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// The discovery journal of a `panic` job, when this journal keeps it:
    /// every line appended, in order. None: it lives in the run's folder,
    /// beside a journal only this machine uses. A journal that workers on
    /// other machines share keeps it, so that a run resumed anywhere never
    /// lists again what was recorded, and rebuilds the discovered keys' file
    /// byte for byte (entries find their rows by offset).
    async fn discovery_lines(&self) -> Result<Option<Vec<DiscoveryLine>>, StoreError> {
        Ok(None)
    }

    /// Append lines to the discovery journal, all or none (called only
    /// when [`JobStore::discovery_lines`] gives Some).
    async fn append_discovery(&self, _lines: &[DiscoveryLine]) -> Result<(), StoreError> {
        Err(StoreError::Journal(
            "this journal keeps no discovery journal".into(),
        ))
    }

    /// Before a key is sent on a route that spends another shared
    /// rate-limit account than the one it was claimed under (a fallback
    /// route charging a sub account, say): lease `account` to this worker
    /// and move the entry to it, so that the account's lease is kept while
    /// the key is unfinished. False when another live worker holds the
    /// account: the entry is moved all the same, and the caller hands the
    /// key back for that worker to claim, so that one worker at a time
    /// spends each account's budget. A journal one process owns holds every
    /// account already.
    async fn take_account(
        &self,
        _id: EntryId,
        _exchange: ExchangeId,
        _account: &str,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// How long a claim holds an entry unless renewed (None: leases do not
    /// matter, one process owns the journal). Leases must be renewed well
    /// inside it.
    fn lease(&self) -> Option<std::time::Duration> {
        None
    }

    /// Every key's timing, in no particular order (a sort would cost the
    /// database more than the report's own grouping), for reports.
    async fn timings(&self) -> Result<Vec<KeyTiming>, StoreError>;
}

/// What kind of audit record this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// One request to an exchange and what came back.
    Attempt,
    /// A liveness probe and its answer.
    Probe,
    /// A key's terminal outcome.
    Outcome,
    /// A run-level event (start, resume, repair, stop).
    Run,
}

/// One audit record before the trail numbers, times and chains it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub kind: Option<AuditKind>,
    pub exchange: Option<ExchangeId>,
    /// Masked key, e.g. `AKIA…9XQZ`.
    pub key: Option<String>,
    /// SHA-256 prefix of the key.
    pub fingerprint: Option<String>,
    pub action: Option<Action>,
    pub channel: Option<String>,
    pub route: Option<Route>,
    pub http_status: Option<u16>,
    pub exchange_code: Option<String>,
    pub outcome: Option<String>,
    pub message: Option<String>,
}

impl AuditEvent {
    /// A run-level record (started, resumed, stopped, ended).
    pub fn run_note(message: impl Into<String>) -> AuditEvent {
        AuditEvent {
            kind: Some(AuditKind::Run),
            message: Some(message.into()),
            ..AuditEvent::default()
        }
    }
}

#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Append a record. Durable when it returns; an error stops the run.
    async fn append(&self, event: AuditEvent) -> Result<(), StoreError>;

    /// Append records in order; durable together when it returns. A sink
    /// that writes in batches makes this one durable write instead of one
    /// per record.
    async fn append_all(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        for event in events {
            self.append(event).await?;
        }
        Ok(())
    }
}
