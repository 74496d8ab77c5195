//! Discovery calls: one page of a managing credential's listing, paid from
//! the same rate-limit budgets as revocations (the credential's account,
//! the IP), held by the same pauses, audited like every attempt, and
//! retried as a read may be: a listing changes nothing, so a reply lost on
//! the way is simply asked again. The caller journals each page before it
//! asks for the next.

use crate::send::Budget;
use crate::work::error_kind;
use crate::{Executor, RunEnd};
use keyrevoke_core::discovery::{Page, PageRequest};
use keyrevoke_core::store::AuditKind;
use keyrevoke_core::{
    Action, AuditEvent, ConnectorError, Credential, Failure, KeyJob, KeyMaterial, Operation,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Rate-limit replies tolerated for one page before the credential's
/// discovery stops: as many as for one key's attempts.
const MAX_RATE_LIMITED: u32 = 64;

/// List calls go out through an exchange's first connector, and so spend
/// the IP budgets of its first egress address.
const LIST_EGRESS: usize = 0;

/// Why a page could not be listed.
#[derive(Debug)]
pub enum ListError {
    /// The exchange refused (no permission, an invalid credential, no list
    /// endpoint) or kept failing: this credential's discovery stops; the
    /// rest of the run goes on.
    Refused(Failure),
    /// The run was interrupted, or cannot go on (the audit cannot be
    /// written).
    Stopped(RunEnd),
}

/// The credential as the key a list call is made by: it spends its own
/// account's budget, as when it deletes a sub key.
fn acting_credential(cred: &Arc<Credential>) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: cred.exchange,
            api_key: cred.api_key.clone(),
            api_secret: None,
            passphrase: None,
            account: None,
            label: None,
        },
        Some(cred.clone()),
    )
}

impl Executor {
    /// List one page for `cred`.
    pub async fn list_page(
        &self,
        cred: &Arc<Credential>,
        request: &PageRequest,
    ) -> Result<Page, ListError> {
        let x = cred.exchange;
        let (Some(conn), Some(limits)) = (self.connectors.get(&x), self.limits.get(&x)) else {
            return Err(ListError::Refused(Failure::local(
                ConnectorError::Unsupported(format!("no connector for {x}")),
            )));
        };
        let job = acting_credential(cred);
        let op = Operation::List(request.kind);
        let account = conn.account_for(op, &job);
        let charges = conn.charges_for(op, &job);
        let max = self.settings.max_attempts.max(1);
        let mut rng = StdRng::from_rng(rand::thread_rng()).expect("thread_rng does not fail");
        let (mut tries, mut limited) = (0u32, 0u32);
        loop {
            let budget = Budget {
                limits,
                charges,
                account: &account,
                egress: LIST_EGRESS,
                refusal_wait: self.settings.backoff.ceiling(limited),
            };
            let Some(result) = self
                .send_within(&budget, || {}, || conn.discover(cred, request))
                .await
            else {
                return Err(ListError::Stopped(RunEnd::Interrupted));
            };
            tries += 1;
            if let Err(e) = self.audit.append(list_event(&job, request, &result)).await {
                return Err(ListError::Stopped(RunEnd::Fatal(e.to_string())));
            }
            let failure = match result {
                Ok(page) => {
                    limits.record_success();
                    return Ok(page);
                }
                Err(f) => f,
            };
            let wait = match &failure.error {
                ConnectorError::RateLimited { .. } => {
                    tries -= 1;
                    limited += 1;
                    if let Some(p) = self.progress.of(x) {
                        p.rate_limited.fetch_add(1, Ordering::Relaxed);
                    }
                    if limited >= MAX_RATE_LIMITED {
                        return Err(ListError::Refused(failure));
                    }
                    // The pause ordered above holds the next try.
                    Duration::ZERO
                }
                ConnectorError::Transient(_) | ConnectorError::OutcomeUnknown(_) if tries < max => {
                    limits.record_failure();
                    self.settings.backoff.delay(tries - 1, None, &mut rng)
                }
                ConnectorError::ClockSkew if tries < max => {
                    let sync = conn.charges_for(Operation::ClockSync, &job);
                    limits.acquire(sync, "", LIST_EGRESS).await;
                    if let Err(f) = conn.sync_clock().await {
                        tracing::warn!(exchange = %x, "clock sync failed: {f}");
                    }
                    Duration::ZERO
                }
                _ => return Err(ListError::Refused(failure)),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.cancel.cancelled() => return Err(ListError::Stopped(RunEnd::Interrupted)),
            }
        }
    }
}

/// The audit record of one list call: the credential's masked key, never a
/// secret; what was listed; what came back.
fn list_event(job: &KeyJob, request: &PageRequest, result: &Result<Page, Failure>) -> AuditEvent {
    let mut e = AuditEvent {
        kind: Some(AuditKind::Attempt),
        exchange: Some(job.key.exchange),
        key: Some(job.masked()),
        fingerprint: Some(job.fingerprint.short().to_string()),
        action: Some(Action::Discover),
        ..AuditEvent::default()
    };
    match result {
        Ok(page) => {
            e.http_status = page.reply.meta.http_status;
            e.exchange_code = page.reply.meta.code.clone();
            e.outcome = Some("ok".into());
            e.message = Some(format!(
                "listed {}: {} keys, {} sub accounts{}",
                request.describe(),
                page.keys.len(),
                page.accounts.len(),
                if page.next.is_some() {
                    ", more to come"
                } else {
                    ""
                }
            ));
        }
        Err(f) => {
            e.http_status = f.meta.http_status;
            e.exchange_code = f.meta.code.clone();
            e.outcome = Some(error_kind(&f.error).into());
            e.message = Some(format!("listing {}: {}", request.describe(), f.error));
        }
    }
    e
}
