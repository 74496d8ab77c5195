//! HTX's rate-limit tiers and what each call spends.
//!
//! Sources: HTX's API docs (huobiapi.github.io/docs/spot/v1, "Rate
//! Limiting Rule"): "Each API Key is limited to 10 times per second"; "If
//! API Key is empty in request, then each IP is limited to 10 times per
//! second". Endpoints marked "(NEW)" with a value of their own are limited
//! per UID and per endpoint, reported by the headers
//! `X-HB-RateLimit-Requests-Remain` and `X-HB-RateLimit-Requests-Expire`;
//! none of the calls keyrevoke makes is so marked (the sub user lock, not
//! called, is: 20 per 2 s).
//!
//! No IP ban is documented. Unconfirmed: the reply to an excess (the
//! project's notes name `base-request-exceed-frequency-limit` and
//! `rate-too-many-requests`; its HTTP status is not documented).

use crate::endpoints;
use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

/// Every signed call, whatever the endpoint: one budget per API key.
pub const KEY_REQUESTS: &str = "key_requests";
/// Unsigned calls (the server time): one budget per IP.
pub const IP_REQUESTS: &str = "ip_requests";

pub const PER_SECOND: u32 = 10;

pub static TIERS: [Tier; 2] = [
    Tier {
        name: KEY_REQUESTS,
        scope: TierScope::Account,
        capacity: PER_SECOND,
        period: Duration::from_secs(1),
    },
    Tier {
        name: IP_REQUESTS,
        scope: TierScope::Ip,
        capacity: PER_SECOND,
        period: Duration::from_secs(1),
    },
];

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

/// A probe reads the parent's key query, or the key's own UID (see
/// lib.rs): either is one signed call.
static PROBE: [Charge; 1] = [charge(KEY_REQUESTS, 1)];

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster) => endpoints::DELETE_SUB_KEY.charges,
        Operation::Route(Route::DisableByMaster) => endpoints::MODIFY_SUB_KEY.charges,
        Operation::Route(_) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => endpoints::SERVER_TIME.charges,
        Operation::List(ListKind::SubAccounts) => endpoints::LIST_SUB_USERS.charges,
        Operation::List(ListKind::SubAccountKeys) => endpoints::QUERY_KEYS.charges,
        // Not rotated here (`can_rotate` is false): never sent.
        Operation::Rotate(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{QUERY_KEYS, UID};
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn every_charge_names_a_tier_and_fits_in_it() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn a_probe_pays_for_either_call_it_may_make() {
        for e in [&QUERY_KEYS, &UID] {
            for c in e.charges {
                assert!(PROBE.contains(c), "{c:?} of {} missing from PROBE", e.path);
            }
        }
    }
}
