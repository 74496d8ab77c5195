//! One request through an exchange's limits, as every request leaves:
//! budget granted, a connection slot held, spaced within the account's
//! window, and no pause of its scope in force at the very moment it goes. A
//! pause ordered while it waited sends it back to wait: only requests
//! already sent when a stop reply arrives go through (DESIGN.md, "Pauses").
//! Its reply is obeyed before the slot is handed on, so a stop reply holds
//! the next request already.
//!
//! Used by revocations and probes (`work.rs`) and by single calls
//! (`calls.rs`: listings, a rotation's calls).

use crate::Executor;
use crate::limits::ExchangeLimits;
use crate::pauses::Heard;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::{Charge, ConnectorError, Failure, Probe, Usage};
use std::time::Duration;

/// The usage headers a successful reply carried.
pub(crate) trait Usages {
    fn usage(&self) -> &[Usage];
}

/// Every reply a single call carries (see [`crate::calls::Replied`]).
impl<T: crate::calls::Replied> Usages for T {
    fn usage(&self) -> &[Usage] {
        &self.reply().usage
    }
}

impl Usages for Probe {
    fn usage(&self) -> &[Usage] {
        &[]
    }
}

impl Usages for () {
    fn usage(&self) -> &[Usage] {
        &[]
    }
}

/// Where one request spends, and whom its pauses hold.
pub(crate) struct Budget<'a> {
    pub limits: &'a ExchangeLimits,
    pub charges: &'a [Charge],
    /// The rate-limit account the request is charged to.
    pub account: &'a str,
    /// The egress address it leaves from.
    pub egress: usize,
    /// How long a rate-limit refusal that names no time holds its scope.
    pub refusal_wait: Duration,
}

impl Executor {
    /// Send `call` once `budget` allows it; `leaving` runs just before it
    /// goes. None when the run is cancelled while waiting.
    pub(crate) async fn send_within<T: Usages, Fut>(
        &self,
        budget: &Budget<'_>,
        leaving: impl Fn(),
        call: impl Fn() -> Fut,
    ) -> Option<Result<T, Failure>>
    where
        Fut: Future<Output = Result<T, Failure>>,
    {
        let Budget {
            limits,
            charges,
            account,
            egress,
            ..
        } = *budget;
        loop {
            tokio::select! {
                _ = limits.acquire(charges, account, egress) => {}
                _ = self.cancel.cancelled() => return None,
            }
            let _permit = self.in_flight.acquire().await.expect("never closed");
            limits.space(charges, account, egress).await;
            let Ok(pass) = limits.admit(account, egress) else {
                // Paused since the grant: the grant is forfeit, wait again.
                continue;
            };
            leaving();
            let result = call().await;
            obey(budget, &result);
            limits.settle(pass, heard(&result));
            return Some(result);
        }
    }
}

/// Pause what a reply says to: its usage headers at zero (nothing of that
/// scope leaves until the budget resets), or a rate-limit refusal (for the
/// time it asks, else `refusal_wait`; a caller may lengthen it later).
pub(crate) fn obey<T: Usages>(budget: &Budget<'_>, result: &Result<T, Failure>) {
    let usage = match result {
        Ok(reply) => reply.usage(),
        Err(f) => &f.usage,
    };
    for u in usage {
        if u.remaining == Some(0) {
            let wait = u.reset_after.unwrap_or(Duration::from_secs(1));
            pause(budget, u.scope, wait, false);
        }
    }
    if let Err(Failure {
        error: ConnectorError::RateLimited { retry_after, scope },
        ..
    }) = result
    {
        pause(
            budget,
            *scope,
            retry_after.unwrap_or(budget.refusal_wait),
            true,
        );
    }
}

/// Stop spending the budget the exchange says is gone: the account's, or
/// the egress address's. `refused`: a request was turned away for it.
pub(crate) fn pause(budget: &Budget<'_>, scope: LimitScope, wait: Duration, refused: bool) {
    match scope {
        LimitScope::Account => budget.limits.pause_account(budget.account, wait, refused),
        LimitScope::Ip | LimitScope::Ban => budget.limits.pause_ip(budget.egress, wait, refused),
    }
}

/// What a reply tells the pauses: any answer but a rate-limit refusal
/// means the exchange takes requests again.
pub(crate) fn heard<T>(result: &Result<T, Failure>) -> Heard {
    match result {
        Ok(_) => Heard::Answered,
        Err(f) if matches!(f.error, ConnectorError::RateLimited { .. }) => Heard::Limited,
        Err(f) if f.meta.http_status.is_some() => Heard::Answered,
        Err(_) => Heard::Nothing,
    }
}
