//! Kraken's rate-limit tiers and what each call spends.
//!
//! Sources:
//! - "Spot REST Rate Limits" (docs.kraken.com/exchange/guides/rest/ratelimits):
//!   every call but ledger/trade history adds 1 to a counter that decays;
//!   Starter: at most 15, -0.33/s; Intermediate: 20, -0.5/s; Pro: 20, -1/s.
//!   "Each API key's counter is separate." Beyond: `EAPI:Rate limit
//!   exceeded`; too many concurrent requests: `EService: Throttled: [UNIX
//!   timestamp]` ("Try again after [timestamp]").
//! - "API Error Codes" (support.kraken.com article 360001491786):
//!   `EGeneral:Temporary lockout` is IP based and "can occur if you had too
//!   many failed API calls, or too many invalid nonce errors in a short
//!   period of time or invalid signatures. Even though these calls return
//!   an error, that error still counts against your API limits";
//!   "Temporary lockouts typically last approximately 15 minutes".
//!
//! A key's tier (from its owner's verification) cannot be read from a
//! reply, so every key is held to Starter's, the lowest. Kraken publishes
//! no count of failed calls that locks an IP out, and a probe of a leaked
//! key fails whenever the key is gone: every probe is also charged to
//! [`IP_FAILED_CALLS`], which lets failing probes leave no faster than one
//! Starter key may send calls at all (unconfirmed: Kraken's own threshold).

use crate::endpoints::{GET_API_KEY_INFO, SERVER_TIME};
use keyrevoke_core::{Charge, Operation, Tier, TierScope};
use std::time::Duration;

/// The calling key's own decaying counter (Starter: 15, -0.33/s).
pub const KEY_COUNTER: &str = "key_counter";
/// Calls that may fail with `EAPI:Invalid key`, per IP: what a lockout
/// counts.
pub const IP_FAILED_CALLS: &str = "ip_failed_calls";
/// Public endpoints, per IP.
pub const IP_PUBLIC: &str = "ip_public";

/// Starter's counter: 15 at most, one unit decaying every ~3 s. As a
/// window, 15 per 45 s never exceeds it: 15 at once fill the counter, and
/// it has emptied again 45 s later.
pub const STARTER_MAX: u32 = 15;
pub const STARTER_WINDOW: Duration = Duration::from_secs(45);

/// How long a `EGeneral:Temporary lockout` lasts ("approximately 15
/// minutes"): nothing more is sent from this IP until then.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

pub static TIERS: [Tier; 3] = [
    Tier {
        name: KEY_COUNTER,
        scope: TierScope::Account,
        capacity: STARTER_MAX,
        period: STARTER_WINDOW,
    },
    Tier {
        name: IP_FAILED_CALLS,
        scope: TierScope::Ip,
        capacity: STARTER_MAX,
        period: STARTER_WINDOW,
    },
    // Unconfirmed: the current docs give no public-endpoint figure; Kraken's
    // older support article ("What are the API rate limits?") said about one
    // public call per second per IP.
    Tier {
        name: IP_PUBLIC,
        scope: TierScope::Ip,
        capacity: 1,
        period: Duration::from_secs(1),
    },
];

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        // No route sends anything: Kraken keys are only escalated.
        Operation::Route(_) => &[],
        Operation::Probe => GET_API_KEY_INFO.charges,
        Operation::ClockSync => SERVER_TIME.charges,
        // No endpoint lists a Kraken account's keys: nothing spent.
        Operation::List(_) => &[],
        // Not rotated (`can_rotate` is false): never sent.
        Operation::Rotate(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn every_charge_names_a_tier_and_fits_in_it() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn every_probe_counts_against_the_ips_failed_calls() {
        assert!(
            charges(Operation::Probe)
                .iter()
                .any(|c| c.tier == IP_FAILED_CALLS)
        );
    }
}
