//! The executor's per-key decisions, with a scripted connector and
//! in-memory stores: fallback order, retries, verify-before-resend, probes.

use async_trait::async_trait;
use keyrevoke_core::config::Config;
use keyrevoke_core::connector::EscalationContact;
use keyrevoke_core::error::{LimitScope, ReplyMeta};
use keyrevoke_core::store::{
    Counts, EnqueueStats, JobEntry, KeyTiming, NewEntry, SourceRef, Transition,
};
use keyrevoke_core::{
    Action, AuditEvent, AuditSink, Capability, Charge, Connector, ConnectorError, EntryId,
    ExchangeId, Failure, Fingerprint, JobStore, KeyJob, KeyMaterial, Liveness, Operation, Probe,
    Reply, Route, Secret, State, StoreError, Tier,
};
use keyrevoke_executor::backoff::Backoff;
use keyrevoke_executor::progress::Progress;
use keyrevoke_executor::{CancellationToken, Executor, KeySource, Parts, RunEnd, Settings};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A journal in memory.
#[derive(Default)]
struct MemStore {
    entries: Mutex<Vec<JobEntry>>,
    transitions: Mutex<Vec<Transition>>,
}

#[async_trait]
impl JobStore for MemStore {
    async fn enqueue(&self, _pass: i64, batch: &[NewEntry]) -> Result<EnqueueStats, StoreError> {
        let mut e = self.entries.lock().unwrap();
        for n in batch {
            let id = e.len() as EntryId + 1;
            e.push(JobEntry {
                id,
                exchange: n.exchange,
                fingerprint: n.fingerprint.clone(),
                masked: n.masked.clone(),
                label: n.label.clone(),
                action: n.action,
                state: State::Pending,
                route: None,
                attempts: 0,
                code: None,
                message: None,
                probe: None,
                source: n.source,
            });
        }
        Ok(EnqueueStats {
            inserted: batch.len() as u64,
            ..Default::default()
        })
    }
    async fn begin_pass(&self) -> Result<i64, StoreError> {
        Ok(1)
    }
    async fn claim(&self, exchange: ExchangeId, limit: usize) -> Result<Vec<JobEntry>, StoreError> {
        // Claimed entries are marked by a lease-like attempt counter trick:
        // take pending ones once.
        let mut e = self.entries.lock().unwrap();
        let mut out = Vec::new();
        for entry in e.iter_mut() {
            if out.len() >= limit {
                break;
            }
            if entry.exchange == exchange
                && !entry.state.is_terminal()
                && entry.code.as_deref() != Some("claimed")
            {
                entry.code = Some("claimed".into());
                out.push(entry.clone());
            }
        }
        Ok(out)
    }
    async fn record(&self, t: Transition) -> Result<(), StoreError> {
        let mut e = self.entries.lock().unwrap();
        let entry = e.iter_mut().find(|x| x.id == t.id).unwrap();
        entry.state = t.state;
        entry.route = t.route;
        entry.attempts = t.attempts;
        entry.message = t.message.clone();
        if t.probe.is_some() {
            entry.probe = t.probe.clone();
        }
        self.transitions.lock().unwrap().push(t);
        Ok(())
    }
    async fn release(&self, _ids: &[EntryId]) -> Result<(), StoreError> {
        Ok(())
    }
    async fn renew(&self, _ids: &[EntryId]) -> Result<(), StoreError> {
        Ok(())
    }
    async fn exchanges_with_work(&self) -> Result<Vec<ExchangeId>, StoreError> {
        let e = self.entries.lock().unwrap();
        let unfinished = e.iter().any(|x| !x.state.is_terminal());
        Ok(if unfinished {
            vec![ExchangeId::new("bybit")]
        } else {
            Vec::new()
        })
    }
    async fn counts(&self) -> Result<Counts, StoreError> {
        Ok(Counts::default())
    }
    async fn list(&self, _x: ExchangeId, _s: State) -> Result<Vec<JobEntry>, StoreError> {
        Ok(Vec::new())
    }
    // Reports are not the executor's concern.
    async fn timings(&self) -> Result<Vec<KeyTiming>, StoreError> {
        Ok(Vec::new())
    }
}

#[derive(Default)]
struct MemAudit {
    events: Mutex<Vec<AuditEvent>>,
    broken: bool,
}

#[async_trait]
impl AuditSink for MemAudit {
    async fn append(&self, event: AuditEvent) -> Result<(), StoreError> {
        if self.broken {
            return Err(StoreError::Audit("disk full".into()));
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

type Scripted = Result<(), ConnectorError>;

/// A connector that answers from scripts: per route a queue of replies,
/// and a queue of probe answers.
struct ScriptedConnector {
    routes: Vec<Route>,
    replies: Mutex<BTreeMap<Route, VecDeque<Scripted>>>,
    probes: Mutex<VecDeque<Result<Liveness, ConnectorError>>>,
    calls: Mutex<Vec<String>>,
}

impl ScriptedConnector {
    fn new(routes: &[Route]) -> Self {
        ScriptedConnector {
            routes: routes.to_vec(),
            replies: Mutex::new(BTreeMap::new()),
            probes: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
        }
    }
    fn on(self, route: Route, replies: Vec<Scripted>) -> Self {
        self.replies.lock().unwrap().insert(route, replies.into());
        self
    }
    fn probes(self, answers: Vec<Result<Liveness, ConnectorError>>) -> Self {
        *self.probes.lock().unwrap() = answers.into();
        self
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

static NO_CHARGES: [Charge; 0] = [];
static NO_TIERS: [Tier; 0] = [];

#[async_trait]
impl Connector for ScriptedConnector {
    fn exchange(&self) -> ExchangeId {
        ExchangeId::new("bybit")
    }
    fn capabilities(&self) -> &'static [Capability] {
        &[]
    }
    fn routes(&self, _job: &KeyJob) -> Vec<Route> {
        self.routes.clone()
    }
    fn tiers(&self) -> &'static [Tier] {
        &NO_TIERS
    }
    fn charges(&self, _op: Operation) -> &'static [Charge] {
        &NO_CHARGES
    }
    fn can_probe(&self, _job: &KeyJob) -> bool {
        true
    }
    async fn perform(&self, route: Route, _job: &KeyJob) -> Result<Reply, Failure> {
        self.calls.lock().unwrap().push(route.to_string());
        let next = self
            .replies
            .lock()
            .unwrap()
            .get_mut(&route)
            .and_then(|q| q.pop_front());
        match next {
            Some(Ok(())) | None => Ok(Reply::default()),
            Some(Err(e)) => Err(Failure::new(e, ReplyMeta::default())),
        }
    }
    async fn probe(&self, _job: &KeyJob) -> Result<Probe, Failure> {
        self.calls.lock().unwrap().push("probe".into());
        match self.probes.lock().unwrap().pop_front() {
            Some(Ok(l)) => Ok(Probe {
                liveness: l,
                ..Probe::cannot_tell()
            }),
            Some(Err(e)) => Err(Failure::local(e)),
            None => Ok(Probe {
                liveness: Liveness::Alive,
                ..Probe::cannot_tell()
            }),
        }
    }
    async fn sync_clock(&self) -> Result<(), Failure> {
        self.calls.lock().unwrap().push("sync_clock".into());
        Ok(())
    }
    fn escalation_contact(&self) -> EscalationContact {
        EscalationContact {
            security_team: "t",
            api_management_page: "p",
        }
    }
}

struct OneKey;

impl KeySource for OneKey {
    fn load(&self, _entry: &JobEntry) -> Result<KeyJob, String> {
        Ok(KeyJob::new(
            KeyMaterial {
                exchange: ExchangeId::new("bybit"),
                api_key: "KEY0000000000001".into(),
                api_secret: Some(Secret::from("s")),
                passphrase: None,
                account: None,
                label: None,
            },
            None,
        ))
    }
}

async fn run(
    conn: Arc<ScriptedConnector>,
    audit: Arc<MemAudit>,
) -> (RunEnd, JobEntry, Arc<MemStore>) {
    run_after(conn, audit, None).await
}

/// A run that finds the key as an earlier, interrupted run left it.
async fn run_after(
    conn: Arc<ScriptedConnector>,
    audit: Arc<MemAudit>,
    left: Option<(State, Route)>,
) -> (RunEnd, JobEntry, Arc<MemStore>) {
    let store = Arc::new(MemStore::default());
    store
        .enqueue(
            1,
            &[NewEntry {
                rate_account: None,
                exchange: ExchangeId::new("bybit"),
                fingerprint: Fingerprint::of("KEY0000000000001"),
                masked: "KEY0…0001".into(),
                label: None,
                action: Action::Revoke,
                rank: 0,
                source: SourceRef {
                    offset: 0,
                    len: 0,
                    line: 2,
                },
            }],
        )
        .await
        .unwrap();
    if let Some((state, route)) = left {
        let mut entries = store.entries.lock().unwrap();
        entries[0].state = state;
        entries[0].route = Some(route);
    }
    let config = Config::default();
    let mut settings = Settings::from_config(&config);
    settings.max_attempts = 3;
    settings.backoff = Backoff {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
    };
    let mut connectors: BTreeMap<ExchangeId, Arc<dyn Connector>> = BTreeMap::new();
    connectors.insert(ExchangeId::new("bybit"), conn);
    let totals = BTreeMap::from([(ExchangeId::new("bybit"), 1u64)]);
    let exec = Arc::new(Executor::new(Parts {
        connectors,
        egress: Default::default(),
        config: &config,
        settings,
        store: store.clone(),
        audit,
        source: Arc::new(OneKey),
        progress: Arc::new(Progress::new(&totals)),
        cancel: CancellationToken::new(),
        budgets: Default::default(),
    }));
    let end = exec.run().await;
    let entry = store.entries.lock().unwrap()[0].clone();
    (end, entry, store)
}

fn unknown() -> ConnectorError {
    ConnectorError::OutcomeUnknown("504".into())
}

#[tokio::test]
async fn a_delete_that_succeeds_ends_revoked_with_its_route() {
    let conn = Arc::new(ScriptedConnector::new(&[
        Route::DeleteSelf,
        Route::Escalate,
    ]));
    let (end, e, store) = run(conn.clone(), Arc::default()).await;
    assert_eq!(end, RunEnd::Finished);
    assert_eq!(
        (e.state, e.route),
        (State::Revoked, Some(Route::DeleteSelf))
    );
    let states: Vec<State> = store
        .transitions
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.state)
        .collect();
    assert_eq!(
        states,
        vec![State::InFlight, State::Revoked],
        "in flight is journaled before sending"
    );
}

#[tokio::test]
async fn an_unknown_outcome_is_probed_before_anything_is_sent_again() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(Route::DeleteSelf, vec![Err(unknown())])
            .probes(vec![Ok(Liveness::Dead)]),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(e.state, State::Revoked, "the delete had worked");
    assert_eq!(
        conn.calls(),
        vec!["delete_self", "probe"],
        "no second delete"
    );
}

#[tokio::test]
async fn an_unknown_outcome_with_the_key_still_alive_is_retried() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(Route::DeleteSelf, vec![Err(unknown()), Ok(())])
            .probes(vec![Ok(Liveness::Alive)]),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(e.state, State::Revoked);
    assert_eq!(conn.calls(), vec!["delete_self", "probe", "delete_self"]);
}

#[tokio::test]
async fn a_dead_key_confirmed_by_a_probe_is_already_dead() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(
                Route::DeleteSelf,
                vec![Err(ConnectorError::KeyDead("10003".into()))],
            )
            .probes(vec![Ok(Liveness::Dead)]),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(e.state, State::AlreadyDead);
    assert_eq!(
        conn.calls(),
        vec!["delete_self", "probe"],
        "the exchange's word alone is not trusted: a probe must agree"
    );
}

#[tokio::test]
async fn a_dead_reply_a_probe_finds_alive_goes_on_to_the_next_channel() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::DisableSelf, Route::Escalate])
            .on(
                Route::DeleteSelf,
                vec![Err(ConnectorError::KeyDead("10003".into()))],
            )
            .probes(vec![Ok(Liveness::Alive)]),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(
        (e.state, e.route),
        (State::Disabled, Some(Route::DisableSelf))
    );
    assert_eq!(conn.calls(), vec!["delete_self", "probe", "disable_self"]);
}

#[tokio::test]
async fn a_dead_reply_no_probe_can_confirm_is_escalated_not_already_dead() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(
                Route::DeleteSelf,
                vec![Err(ConnectorError::KeyDead("10003".into()))],
            )
            .probes(vec![Ok(Liveness::CannotTell)]),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(e.state, State::Escalated, "{e:?}");
    let message = e.message.unwrap_or_default();
    assert!(
        message.contains("10003") && message.contains("no probe could confirm it"),
        "the escalation says why: {message}"
    );
    assert_eq!(conn.calls(), vec!["delete_self", "probe"]);
}

#[tokio::test]
async fn an_unsupported_route_falls_back_to_the_next_channel() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::DisableSelf, Route::Escalate]).on(
            Route::DeleteSelf,
            vec![Err(ConnectorError::Unsupported("no permission".into()))],
        ),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(
        (e.state, e.route),
        (State::Disabled, Some(Route::DisableSelf))
    );
}

#[tokio::test]
async fn no_working_channel_means_escalation_with_the_probe_on_record() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(
                Route::DeleteSelf,
                vec![Err(ConnectorError::Unsupported("no permission".into()))],
            )
            .probes(vec![Ok(Liveness::Alive)]),
    );
    let (_, e, _) = run(conn, Arc::default()).await;
    assert_eq!(e.state, State::Escalated);
    assert!(e.probe.unwrap().contains("alive"));
    assert!(e.message.unwrap().contains("no permission"));
}

#[tokio::test]
async fn transient_failures_are_retried_then_fail_with_the_last_error() {
    let t = || Err(ConnectorError::Transient("HTTP 503".into()));
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(Route::DeleteSelf, vec![t(), t(), t(), t()]),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(e.state, State::Failed, "3 attempts allowed");
    assert_eq!(e.attempts, 3);
    assert!(e.message.unwrap().contains("HTTP 503"));
}

#[tokio::test]
async fn clock_skew_resyncs_and_retries() {
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(Route::DeleteSelf, vec![Err(ConnectorError::ClockSkew)]),
    );
    let (_, e, _) = run(conn.clone(), Arc::default()).await;
    assert_eq!(e.state, State::Revoked);
    assert_eq!(
        conn.calls(),
        vec!["delete_self", "sync_clock", "delete_self"]
    );
}

#[tokio::test]
async fn rate_limit_replies_do_not_spend_the_retry_budget() {
    let rl = || {
        Err(ConnectorError::RateLimited {
            retry_after: Some(Duration::from_millis(5)),
            scope: LimitScope::Account,
        })
    };
    let conn = Arc::new(
        ScriptedConnector::new(&[Route::DeleteSelf, Route::Escalate])
            .on(Route::DeleteSelf, vec![rl(), rl(), rl(), rl()]),
    );
    let (_, e, _) = run(conn, Arc::default()).await;
    assert_eq!(e.state, State::Revoked);
}

#[tokio::test]
async fn an_audit_that_cannot_be_written_stops_the_run() {
    let conn = Arc::new(ScriptedConnector::new(&[
        Route::DeleteSelf,
        Route::Escalate,
    ]));
    let audit = Arc::new(MemAudit {
        broken: true,
        ..Default::default()
    });
    let (end, e, _) = run(conn, audit).await;
    assert!(
        matches!(end, RunEnd::Fatal(ref m) if m.contains("disk full")),
        "{end:?}"
    );
    assert!(
        !e.state.is_terminal(),
        "no outcome is recorded without its audit record"
    );
}

#[tokio::test]
async fn a_resumed_key_starts_at_its_journaled_route_not_at_refusals_already_heard() {
    // The earlier run was refused on delete_self, then killed with
    // disable_self in flight: the probe comes first, then disable_self,
    // and delete_self is not asked again.
    let conn = Arc::new(ScriptedConnector::new(&[
        Route::DeleteSelf,
        Route::DisableSelf,
        Route::Escalate,
    ]));
    let (end, e, _) = run_after(
        conn.clone(),
        Arc::default(),
        Some((State::InFlight, Route::DisableSelf)),
    )
    .await;
    assert_eq!(end, RunEnd::Finished);
    assert_eq!(
        (e.state, e.route),
        (State::Disabled, Some(Route::DisableSelf))
    );
    assert_eq!(conn.calls(), vec!["probe", "disable_self"]);
}
