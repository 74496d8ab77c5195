//! Single calls outside a key's revocation (a rotation's describe, create
//! and test): paid from the same rate-limit budgets as revocations, held by
//! the same pauses, audited like every attempt. A read is asked again when
//! its reply was lost; a create is sent once, and a lost reply goes back to
//! the caller, who finds what it made by listing before anything else.

use crate::limits::ExchangeLimits;
use crate::work::{error_kind, heard};
use crate::{Executor, RunEnd};
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::store::AuditKind;
use keyrevoke_core::{
    Action, AuditEvent, Connector, ConnectorError, Failure, KeyJob, Operation, Reply, Usage,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Rate-limit replies tolerated for one call before it is given up: as
/// many as for one key's attempts.
const MAX_RATE_LIMITED: u32 = 64;

/// Single calls leave through an exchange's first connector, and so spend
/// the IP budgets of its first egress address.
const CALL_EGRESS: usize = 0;

/// What a successful call carries back.
pub trait Replied {
    fn reply(&self) -> &Reply;
}

impl Replied for Reply {
    fn reply(&self) -> &Reply {
        self
    }
}

impl Replied for keyrevoke_core::rotation::Described {
    fn reply(&self) -> &Reply {
        &self.reply
    }
}

impl Replied for keyrevoke_core::rotation::Created {
    fn reply(&self) -> &Reply {
        &self.reply
    }
}

impl Replied for keyrevoke_core::discovery::Page {
    fn reply(&self) -> &Reply {
        &self.reply
    }
}

/// One call: who makes it, what for, and whether a lost reply may be asked
/// again.
pub struct Call<'a> {
    /// The key (or credential as a key) the call is made by: its budget.
    pub job: &'a KeyJob,
    pub op: Operation,
    pub action: Action,
    /// For the audit: what the call does (`create a sub key for bot-17`).
    pub what: String,
    /// A read changes nothing: a reply lost on the way is asked again. A
    /// write is sent once.
    pub repeatable: bool,
}

/// Why a call did not succeed.
#[derive(Debug)]
pub enum CallError {
    /// The exchange refused, kept failing, or (for a write) its reply was
    /// lost: the failure says which.
    Failed(Failure),
    /// The run was interrupted, or cannot go on (the audit cannot be
    /// written).
    Stopped(RunEnd),
}

impl Executor {
    /// Make `call` with `send`, paced and retried as its kind allows.
    pub async fn call<T, Fut>(
        &self,
        call: &Call<'_>,
        send: impl Fn(Arc<dyn Connector>) -> Fut,
    ) -> Result<T, CallError>
    where
        T: Replied,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let x = call.job.key.exchange;
        let (Some(conn), Some(limits)) = (self.connectors.get(&x), self.limits.get(&x)) else {
            return Err(CallError::Failed(Failure::local(
                ConnectorError::Unsupported(format!("no connector for {x}")),
            )));
        };
        let account = conn.account_for(call.op, call.job);
        let charges = conn.charges_for(call.op, call.job);
        let max = if call.repeatable {
            self.settings.max_attempts.max(1)
        } else {
            1
        };
        let mut rng = StdRng::from_rng(rand::thread_rng()).expect("thread_rng does not fail");
        let (mut tries, mut limited) = (0u32, 0u32);
        loop {
            tokio::select! {
                _ = limits.acquire(charges, &account, CALL_EGRESS) => {}
                _ = self.cancel.cancelled() => return Err(CallError::Stopped(RunEnd::Interrupted)),
            }
            let permit = self.in_flight.acquire().await.expect("never closed");
            limits.space(charges, &account).await;
            let Ok(pass) = limits.admit(&account, CALL_EGRESS) else {
                // Paused since the grant: the grant is forfeit, wait again.
                continue;
            };
            tries += 1;
            let result = send(conn.clone()).await;
            // Before the slot is handed on: a stop reply must hold the next
            // request already (DESIGN.md, "Pauses").
            let usage = match &result {
                Ok(r) => &r.reply().usage,
                Err(f) => &f.usage,
            };
            obey_usage(limits, &account, usage);
            if let Err(Failure {
                error: ConnectorError::RateLimited { retry_after, scope },
                ..
            }) = &result
            {
                let wait = retry_after.unwrap_or_else(|| self.settings.backoff.ceiling(limited));
                pause(limits, *scope, &account, wait, true);
            }
            limits.settle(pass, heard(&result));
            drop(permit);
            if let Err(e) = self.audit.append(call_event(call, &result)).await {
                return Err(CallError::Stopped(RunEnd::Fatal(e.to_string())));
            }
            let failure = match result {
                Ok(r) => {
                    limits.record_success();
                    return Ok(r);
                }
                Err(f) => f,
            };
            let wait = match &failure.error {
                // A refusal for the rate is a refusal: nothing was done, so
                // even a write is sent again once the pause ends.
                ConnectorError::RateLimited { .. } => {
                    tries -= 1;
                    limited += 1;
                    if let Some(p) = self.progress.of(x) {
                        p.rate_limited.fetch_add(1, Ordering::Relaxed);
                    }
                    if limited >= MAX_RATE_LIMITED {
                        return Err(CallError::Failed(failure));
                    }
                    Duration::ZERO
                }
                ConnectorError::Transient(_) | ConnectorError::OutcomeUnknown(_) if tries < max => {
                    limits.record_failure();
                    self.settings.backoff.delay(tries - 1, None, &mut rng)
                }
                // Refused for the clock before anything was done: a write
                // too may be signed again.
                ConnectorError::ClockSkew if tries < self.settings.max_attempts.max(1) => {
                    let sync = conn.charges_for(Operation::ClockSync, call.job);
                    limits.acquire(sync, "", CALL_EGRESS).await;
                    if let Err(f) = conn.sync_clock().await {
                        tracing::warn!(exchange = %x, "clock sync failed: {f}");
                    }
                    Duration::ZERO
                }
                _ => return Err(CallError::Failed(failure)),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.cancel.cancelled() => return Err(CallError::Stopped(RunEnd::Interrupted)),
            }
        }
    }
}

/// A budget the exchange reports spent holds its scope until it resets
/// (as for attempts: `Work::learn`).
pub(crate) fn obey_usage(limits: &ExchangeLimits, account: &str, usage: &[Usage]) {
    for u in usage {
        if u.remaining == Some(0) {
            let wait = u.reset_after.unwrap_or(Duration::from_secs(1));
            pause(limits, u.scope, account, wait, false);
        }
    }
}

pub(crate) fn pause(
    limits: &ExchangeLimits,
    scope: LimitScope,
    account: &str,
    wait: Duration,
    refused: bool,
) {
    match scope {
        LimitScope::Account => limits.pause_account(account, wait, refused),
        LimitScope::Ip | LimitScope::Ban => limits.pause_ip(CALL_EGRESS, wait, refused),
    }
}

/// The audit record of one call: the acting key masked, never a secret;
/// what it did; what came back.
fn call_event<T: Replied>(call: &Call<'_>, result: &Result<T, Failure>) -> AuditEvent {
    let job = call.job;
    let mut e = AuditEvent {
        kind: Some(AuditKind::Attempt),
        exchange: Some(job.key.exchange),
        key: Some(job.masked()),
        fingerprint: Some(job.fingerprint.short().to_string()),
        action: Some(call.action),
        ..AuditEvent::default()
    };
    match result {
        Ok(r) => {
            e.http_status = r.reply().meta.http_status;
            e.exchange_code = r.reply().meta.code.clone();
            e.outcome = Some("ok".into());
            e.message = Some(call.what.clone());
        }
        Err(f) => {
            e.http_status = f.meta.http_status;
            e.exchange_code = f.meta.code.clone();
            e.outcome = Some(error_kind(&f.error).into());
            e.message = Some(format!("{}: {}", call.what, f.error));
        }
    }
    e
}
