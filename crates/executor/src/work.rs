//! One key's way to an outcome: routes strongest first, each attempt
//! budgeted, journaled, audited and retried as its failure allows.

use crate::limits::ExchangeLimits;
use crate::send::{self, Budget, Usages};
use crate::triage::Place;
use crate::{Executor, Stop};
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::store::{AuditKind, JobEntry, Transition};
use keyrevoke_core::{
    AuditEvent, Channel, Connector, ConnectorError, Failure, KeyJob, Liveness, Operation, Outcome,
    Probe, Reply, Route, State, is_shared_account,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Rate-limit replies tolerated for one key before it fails: far more than
/// a healthy run meets, few enough that a misconfigured limit shows.
const MAX_RATE_LIMITED: u32 = 64;

enum RouteEnd {
    Done(Outcome),
    /// This route cannot work for this key: try the next.
    Next(Failure),
    /// Retries exhausted.
    Failed(Failure),
}

pub(crate) struct Work<'a> {
    exec: &'a Arc<Executor>,
    entry: JobEntry,
    conn: Arc<dyn Connector>,
    /// The exchange's connector once per egress address, in the order of
    /// the limits' egress budgets.
    senders: Arc<[Arc<dyn Connector>]>,
    /// The egress address the last request left from: a per-IP pause its
    /// reply orders holds that address.
    egress: AtomicUsize,
    limits: Arc<ExchangeLimits>,
    attempts: u32,
    last_probe: Option<Probe>,
    /// A successful attempt's record, written with the outcome.
    unaudited_attempt: Option<AuditEvent>,
    /// Under triage, a fund-moving key's place ahead of the others, given
    /// up when its first write leaves.
    place: std::sync::Mutex<Option<Place<'a>>>,
    rng: StdRng,
}

fn outcome_of(route: Route) -> Outcome {
    match route.channel() {
        Channel::Delete => Outcome::Revoked,
        Channel::Disable => Outcome::Disabled,
        Channel::Escalate => Outcome::Escalated,
    }
}

pub(crate) fn error_kind(e: &ConnectorError) -> &'static str {
    match e {
        ConnectorError::RateLimited { .. } => "rate_limited",
        ConnectorError::Transient(_) => "transient",
        ConnectorError::OutcomeUnknown(_) => "outcome_unknown",
        ConnectorError::ClockSkew => "clock_skew",
        ConnectorError::KeyDead(_) => "key_dead",
        ConnectorError::Unsupported(_) => "unsupported",
        ConnectorError::Permanent { .. } => "permanent",
    }
}

impl<'a> Work<'a> {
    pub(crate) fn new(
        exec: &'a Arc<Executor>,
        entry: JobEntry,
        senders: Arc<[Arc<dyn Connector>]>,
        limits: Arc<ExchangeLimits>,
    ) -> Self {
        let attempts = entry.attempts;
        Work {
            exec,
            entry,
            conn: senders[0].clone(),
            senders,
            egress: AtomicUsize::new(0),
            limits,
            attempts,
            last_probe: None,
            unaudited_attempt: None,
            place: std::sync::Mutex::new(None),
            // Jitter only needs to differ between keys and runs: seeded from
            // the thread's generator, not a getrandom call per key.
            rng: StdRng::from_rng(rand::thread_rng()).expect("thread_rng does not fail"),
        }
    }

    pub(crate) async fn run(mut self, job: Result<KeyJob, String>) -> Result<(), Stop> {
        let job = match job {
            Ok(j) => j,
            Err(msg) => return self.finish(Outcome::Failed, None, None, Some(msg)).await,
        };
        if job.protected {
            let why = "this key is a managing credential of the run; keyrevoke never acts on it: revoke it by hand once the run is done";
            return self.escalate(&job, why.to_string()).await;
        }
        // A request of an earlier run may have reached the exchange: find out
        // before sending anything again.
        if self.entry.state.needs_verify()
            && let Some(route) = self.entry.route.filter(|r| *r != Route::Escalate)
        {
            let probe = self.probe(&job).await?;
            if probe.liveness == Liveness::Dead {
                return self
                    .finish(
                        outcome_of(route),
                        Some(route),
                        None,
                        Some("confirmed by probe after an interrupted attempt".into()),
                    )
                    .await;
            }
        }
        if self.exec.settings.triage
            && !self.entry.state.needs_verify()
            && self.conn.can_probe(&job)
            && let Some(done) = self.triage(&job).await?
        {
            return self
                .finish(
                    done,
                    None,
                    None,
                    Some("the probe found the key gone: nothing sent".into()),
                )
                .await;
        }
        let mut last: Option<Failure> = None;
        let routes = self.conn.routes(&job);
        // Routes are tried strongest first, so those before the journaled
        // one were refused by an earlier run: resume at it, not at the
        // first, rather than spend requests on refusals already heard.
        let resume_at = self
            .entry
            .route
            .and_then(|r| routes.iter().position(|x| *x == r))
            .unwrap_or(0);
        let earlier_refusal = (resume_at > 0)
            .then(|| self.entry.message.clone())
            .flatten();
        // The account the key was claimed under (its journal entry's):
        // the first route's, or the one it was handed back for.
        let mut account = routes
            .get(resume_at)
            .map(|r| self.conn.account_for(Operation::Route(*r), &job));
        for route in routes.into_iter().skip(resume_at) {
            if route == Route::Escalate {
                break;
            }
            let needs = self.conn.account_for(Operation::Route(route), &job);
            if account.as_deref() != Some(needs.as_str()) && is_shared_account(&needs) {
                let refusal = last.as_ref().map(|f| f.to_string());
                if !self.take_account(&needs, route, refusal).await? {
                    return Err(Stop::HandedBack);
                }
                account = Some(needs);
            }
            match self.try_route(&job, route).await? {
                RouteEnd::Done(outcome) => {
                    return self.finish(outcome, Some(route), None, None).await;
                }
                RouteEnd::Next(f) => last = Some(f),
                RouteEnd::Failed(f) => {
                    let msg = f.to_string();
                    return self
                        .finish(Outcome::Failed, Some(route), Some(&f), Some(msg))
                        .await;
                }
            }
        }
        let last = last.map(|f| f.to_string()).or(earlier_refusal);
        let why = match (&last, self.conn.escalation_reason(&job)) {
            (_, Some(reason)) => reason,
            (Some(f), None) => format!("no API channel worked; last refusal: {f}"),
            (None, None) => {
                "no API channel can act on this key with the material at hand".to_string()
            }
        };
        self.escalate(&job, why).await
    }

    /// A fallback route that spends another shared account: its budget
    /// is one across workers, so this worker leases the account before
    /// sending on it (README, "Workers"). When another worker holds it, the
    /// key is journaled at this route (with the refusal that led here, so
    /// nothing refused is sent again) and handed back: the account's
    /// holder, to whom the journal has moved it, claims it next.
    async fn take_account(
        &mut self,
        account: &str,
        route: Route,
        refusal: Option<String>,
    ) -> Result<bool, Stop> {
        let store = self.exec.store.clone();
        if store
            .take_account(self.entry.id, self.entry.exchange, account)
            .await?
        {
            return Ok(true);
        }
        self.record(State::Pending, Some(route), None, refusal)
            .await?;
        Ok(false)
    }

    /// `--triage`: probe first. A dead key needs no write (its outcome is
    /// returned); a fund-moving one keeps its place ahead of the others
    /// until its first write leaves; any other waits for those.
    async fn triage(&mut self, job: &KeyJob) -> Result<Option<Outcome>, Stop> {
        let order = &self.exec.funds_first[&self.entry.exchange];
        let place = order.probing();
        let probe = self.probe(job).await?;
        match (probe.liveness, probe.can_move_funds) {
            (Liveness::Dead, _) => Ok(Some(Outcome::AlreadyDead)),
            (Liveness::Alive, Some(true)) => {
                *self.place.lock().unwrap() = Some(place);
                Ok(None)
            }
            _ => {
                tokio::select! {
                    _ = place.after_fund_moving() => Ok(None),
                    _ = self.exec.cancel.cancelled() => Err(Stop::Cancelled),
                }
            }
        }
    }

    fn cancelled(&self) -> Result<(), Stop> {
        if self.exec.cancel.is_cancelled() {
            Err(Stop::Cancelled)
        } else {
            Ok(())
        }
    }

    async fn sleep(&self, d: Duration) -> Result<(), Stop> {
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = self.exec.cancel.cancelled() => Err(Stop::Cancelled),
        }
    }

    /// Send one request of `op` once the limits allow it (see `send.rs`).
    ///
    /// Each request leaves from the next egress address in turn, spending
    /// that address's per-IP budgets and the account's shared ones.
    async fn send<T: Usages, Fut>(
        &self,
        op: Operation,
        job: &KeyJob,
        call: impl Fn(Arc<dyn Connector>) -> Fut,
    ) -> Result<Result<T, Failure>, Stop>
    where
        Fut: Future<Output = Result<T, Failure>>,
    {
        self.send_from(None, op, job, call).await
    }

    /// [`Work::send`] from egress address `egress`, or the next in turn.
    async fn send_from<T: Usages, Fut>(
        &self,
        egress: Option<usize>,
        op: Operation,
        job: &KeyJob,
        call: impl Fn(Arc<dyn Connector>) -> Fut,
    ) -> Result<Result<T, Failure>, Stop>
    where
        Fut: Future<Output = Result<T, Failure>>,
    {
        let account = self.conn.account_for(op, job);
        let egress = egress.unwrap_or_else(|| self.limits.next_egress()) % self.senders.len();
        self.egress.store(egress, Ordering::Relaxed);
        let sender = &self.senders[egress];
        let budget = Budget {
            limits: &self.limits,
            charges: self.conn.charges_for(op, job),
            account: &account,
            egress,
            refusal_wait: self.exec.settings.backoff.ceiling(0),
        };
        // A fund-moving key gives up its place ahead of the others when
        // its first write leaves.
        let leaving = || {
            if matches!(op, Operation::Route(_))
                && let Some(place) = self.place.lock().unwrap().take()
            {
                place.write_leaves();
            }
        };
        self.exec
            .send_within(&budget, leaving, || call(sender.clone()))
            .await
            .ok_or(Stop::Cancelled)
    }

    /// React to a rate-limit reply; false once this key has met too many.
    fn rate_limited(
        &self,
        op: Operation,
        job: &KeyJob,
        retry_after: Option<Duration>,
        scope: LimitScope,
        count: u32,
    ) -> bool {
        if let Some(p) = self.exec.progress.of(self.entry.exchange) {
            p.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        let wait = retry_after.unwrap_or_else(|| self.exec.settings.backoff.ceiling(count));
        self.pause(scope, op, job, wait, true);
        count < MAX_RATE_LIMITED
    }

    /// Stop spending the budget the exchange says is gone: the account's,
    /// or the egress address's. `refused`: a request was turned away for it.
    fn pause(&self, scope: LimitScope, op: Operation, job: &KeyJob, wait: Duration, refused: bool) {
        let account = self.conn.account_for(op, job);
        let budget = Budget {
            limits: &self.limits,
            charges: &[],
            account: &account,
            egress: self.egress.load(Ordering::Relaxed),
            refusal_wait: wait,
        };
        send::pause(&budget, scope, wait, refused);
    }

    async fn record(
        &mut self,
        state: State,
        route: Option<Route>,
        failure: Option<&Failure>,
        message: Option<String>,
    ) -> Result<(), Stop> {
        let t = Transition {
            id: self.entry.id,
            state,
            route,
            attempts: self.attempts,
            code: failure.and_then(|f| f.meta.code.clone()),
            message: message.or_else(|| failure.map(|f| f.to_string())),
            probe: self.last_probe.as_ref().map(Transition::probe_json),
        };
        self.exec.store.record(t).await?;
        self.entry.state = state;
        self.entry.route = route;
        Ok(())
    }

    fn event(&self, kind: AuditKind) -> AuditEvent {
        AuditEvent {
            kind: Some(kind),
            exchange: Some(self.entry.exchange),
            key: Some(self.entry.masked.clone()),
            fingerprint: Some(self.entry.fingerprint.short().to_string()),
            action: Some(self.entry.action),
            ..AuditEvent::default()
        }
    }

    fn attempt_event(&self, route: Route, result: &Result<Reply, Failure>) -> AuditEvent {
        let mut e = self.event(AuditKind::Attempt);
        e.channel = Some(route.channel().to_string());
        e.route = Some(route);
        match result {
            Ok(reply) => {
                e.http_status = reply.meta.http_status;
                e.exchange_code = reply.meta.code.clone();
                e.outcome = Some("ok".into());
            }
            Err(f) => {
                e.http_status = f.meta.http_status;
                e.exchange_code = f.meta.code.clone();
                e.outcome = Some(error_kind(&f.error).into());
                e.message = Some(f.error.to_string());
            }
        }
        e
    }

    async fn try_route(&mut self, job: &KeyJob, route: Route) -> Result<RouteEnd, Stop> {
        let op = Operation::Route(route);
        let max = self.exec.settings.max_attempts.max(1);
        let (mut tries, mut limited) = (0u32, 0u32);
        // An earlier attempt may have worked without our hearing of it.
        let mut maybe_done = false;
        loop {
            self.cancelled()?;
            tries += 1;
            self.attempts += 1;
            if tries == 1 {
                self.limits.earn_retry();
            }
            if tries > 1
                && let Some(p) = self.exec.progress.of(self.entry.exchange)
            {
                p.retries.fetch_add(1, Ordering::Relaxed);
            }
            // Journal first, then wait for budget, then send at once: the
            // moment the limiter grants is the moment the request leaves,
            // with no journal write in between to skew the spacing.
            let before = (self.entry.state, self.entry.route);
            self.record(State::InFlight, Some(route), None, None)
                .await?;
            let perform = |conn: Arc<dyn Connector>| async move { conn.perform(route, job).await };
            let result = match self.send(op, job, perform).await {
                Ok(result) => result,
                Err(stop) => {
                    // Stopped while waiting: nothing was sent by this attempt.
                    if matches!(stop, Stop::Cancelled) {
                        self.record(before.0, before.1, None, None).await?;
                    }
                    return Err(stop);
                }
            };
            let attempt = self.attempt_event(route, &result);
            let f = match result {
                Ok(_) => {
                    // Audited with the outcome that follows at once: one
                    // durable write for both.
                    self.unaudited_attempt = Some(attempt);
                    self.limits.record_success();
                    return Ok(RouteEnd::Done(outcome_of(route)));
                }
                Err(f) => {
                    self.exec.audit.append(attempt).await?;
                    f
                }
            };
            if !matches!(f.error, ConnectorError::OutcomeUnknown(_)) {
                // The exchange answered: the request did not take effect.
                // Journal that, so a resume after a crash from here on does
                // not mistake a dead key for one this attempt deleted.
                self.record(State::Pending, Some(route), Some(&f), None)
                    .await?;
            }
            match &f.error {
                ConnectorError::RateLimited { retry_after, scope } => {
                    tries -= 1;
                    limited += 1;
                    if !self.rate_limited(op, job, *retry_after, *scope, limited) {
                        return Ok(RouteEnd::Failed(f));
                    }
                }
                ConnectorError::Transient(_) => {
                    self.limits.record_failure();
                    if tries >= max {
                        return Ok(RouteEnd::Failed(f));
                    }
                    self.backoff(tries, None).await?;
                }
                ConnectorError::ClockSkew => {
                    if tries >= max {
                        return Ok(RouteEnd::Failed(f));
                    }
                    self.sync_clock(job).await?;
                }
                ConnectorError::OutcomeUnknown(_) => {
                    self.limits.record_failure();
                    self.record(State::Unknown, Some(route), Some(&f), None)
                        .await?;
                    match self.probe(job).await?.liveness {
                        Liveness::Dead => return Ok(RouteEnd::Done(outcome_of(route))),
                        Liveness::Alive => {}
                        Liveness::CannotTell => maybe_done = true,
                    }
                    if tries >= max {
                        return Ok(RouteEnd::Failed(f));
                    }
                    self.backoff(tries, None).await?;
                }
                ConnectorError::KeyDead(why) => {
                    if maybe_done {
                        return Ok(RouteEnd::Done(outcome_of(route)));
                    }
                    // already_dead takes the exchange's word and a probe
                    // that agrees: a key no probe can see is not proven
                    // dead, so it goes on down the routes (to escalation,
                    // saying why) instead.
                    return Ok(match self.probe(job).await?.liveness {
                        Liveness::Dead => RouteEnd::Done(Outcome::AlreadyDead),
                        Liveness::Alive => RouteEnd::Next(f),
                        Liveness::CannotTell => RouteEnd::Next(Failure {
                            error: ConnectorError::KeyDead(format!(
                                "{why}; no probe could confirm it"
                            )),
                            ..f
                        }),
                    });
                }
                ConnectorError::Unsupported(_) => return Ok(RouteEnd::Next(f)),
                ConnectorError::Permanent { .. } => {
                    // A master told "no such key" speaks of a key that may be
                    // gone already: ask.
                    if route.channel() == Channel::Delete
                        && self.conn.can_probe(job)
                        && self.probe(job).await?.liveness == Liveness::Dead
                    {
                        let o = if maybe_done {
                            outcome_of(route)
                        } else {
                            Outcome::AlreadyDead
                        };
                        return Ok(RouteEnd::Done(o));
                    }
                    return Ok(RouteEnd::Next(f));
                }
            }
        }
    }

    /// Wait before a retry: jittered backoff, then the exchange's retry
    /// budget.
    async fn backoff(&mut self, tries: u32, retry_after: Option<Duration>) -> Result<(), Stop> {
        let d =
            self.exec
                .settings
                .backoff
                .delay(tries.saturating_sub(1), retry_after, &mut self.rng);
        self.sleep(d).await?;
        while !self.limits.take_retry() {
            self.sleep(self.limits.retry_wait()).await?;
        }
        Ok(())
    }

    /// Resync the exchange's clock in every egress address's connector
    /// (each keeps its own offset).
    async fn sync_clock(&mut self, job: &KeyJob) -> Result<(), Stop> {
        for egress in 0..self.senders.len() {
            let sync = |conn: Arc<dyn Connector>| async move { conn.sync_clock().await };
            let synced = self
                .send_from(Some(egress), Operation::ClockSync, job, sync)
                .await?;
            if let Err(f) = synced {
                tracing::warn!(exchange = %self.entry.exchange, "clock sync failed: {f}");
                self.backoff(1, None).await?;
            }
        }
        Ok(())
    }

    /// A liveness probe, retried through transient failures. Cannot-tell
    /// when no probe is possible or it keeps failing.
    async fn probe(&mut self, job: &KeyJob) -> Result<Probe, Stop> {
        if !self.conn.can_probe(job) {
            return Ok(Probe::cannot_tell());
        }
        let max = self.exec.settings.max_attempts.max(1);
        let (mut tries, mut limited) = (0u32, 0u32);
        loop {
            self.cancelled()?;
            tries += 1;
            let probe = |conn: Arc<dyn Connector>| async move { conn.probe(job).await };
            let result = self.send(Operation::Probe, job, probe).await?;
            let mut e = self.event(AuditKind::Probe);
            match &result {
                Ok(p) => {
                    e.http_status = p.meta.http_status;
                    e.exchange_code = p.meta.code.clone();
                    e.outcome = Some(
                        match p.liveness {
                            Liveness::Alive => "alive",
                            Liveness::Dead => "dead",
                            Liveness::CannotTell => "cannot_tell",
                        }
                        .into(),
                    );
                }
                Err(f) => {
                    e.http_status = f.meta.http_status;
                    e.exchange_code = f.meta.code.clone();
                    e.outcome = Some(error_kind(&f.error).into());
                    e.message = Some(f.error.to_string());
                }
            }
            self.exec.audit.append(e).await?;
            match result {
                Ok(p) => {
                    self.last_probe = Some(p.clone());
                    return Ok(p);
                }
                Err(f) => match &f.error {
                    ConnectorError::RateLimited { retry_after, scope } => {
                        tries -= 1;
                        limited += 1;
                        if !self.rate_limited(Operation::Probe, job, *retry_after, *scope, limited)
                        {
                            return Ok(Probe::cannot_tell());
                        }
                    }
                    ConnectorError::ClockSkew if tries < max => self.sync_clock(job).await?,
                    ConnectorError::Transient(_) | ConnectorError::OutcomeUnknown(_)
                        if tries < max =>
                    {
                        self.backoff(tries, None).await?
                    }
                    _ => return Ok(Probe::cannot_tell()),
                },
            }
        }
    }

    async fn escalate(&mut self, job: &KeyJob, why: String) -> Result<(), Stop> {
        // The probe is what makes an escalation worth sending: alive keys,
        // and those that can move funds, first. A dead key needs nothing.
        let probe = match &self.last_probe {
            Some(p) => p.clone(),
            None => self.probe(job).await?,
        };
        if probe.liveness == Liveness::Dead && !job.protected {
            return self
                .finish(
                    Outcome::AlreadyDead,
                    None,
                    None,
                    Some("the exchange reports the key gone".into()),
                )
                .await;
        }
        self.finish(Outcome::Escalated, Some(Route::Escalate), None, Some(why))
            .await
    }

    async fn finish(
        &mut self,
        outcome: Outcome,
        route: Option<Route>,
        failure: Option<&Failure>,
        message: Option<String>,
    ) -> Result<(), Stop> {
        let mut e = self.event(AuditKind::Outcome);
        e.route = route;
        e.channel = route.map(|r| r.channel().to_string());
        e.outcome = Some(outcome.to_string());
        e.exchange_code = failure.and_then(|f| f.meta.code.clone());
        e.http_status = failure.and_then(|f| f.meta.http_status);
        e.message = message.clone();
        // The audit first: a terminal journal state always has its record.
        let mut events: Vec<AuditEvent> = self.unaudited_attempt.take().into_iter().collect();
        events.push(e);
        self.exec.audit.append_all(events).await?;
        self.record(State::from(outcome), route, failure, message)
            .await?;
        if let Some(p) = self.exec.progress.of(self.entry.exchange) {
            p.finished(outcome);
        }
        Ok(())
    }
}
