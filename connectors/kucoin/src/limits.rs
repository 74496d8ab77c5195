//! KuCoin's rate-limit tiers and what each operation spends.
//!
//! Sources:
//! - https://www.kucoin.com/docs-new/rate-limit: resource pools per VIP
//!   level, VIP0 Management 2000/30s (VIP12 20000/30s) and Public 2000/30s;
//!   "the weight of this interface will be deducted and updated every 30s
//!   (starting from the arrival time of the user's first request)"; over
//!   quota: HTTP 429, code 429000, retry after the header's countdown;
//!   every reply carries `gw-ratelimit-limit`, `gw-ratelimit-remaining`,
//!   `gw-ratelimit-reset` (ms); Public pool "based on IP", the others "based
//!   on UID", sub-account and master limits independent.
//! - https://www.kucoin.com/docs/basic-info/request-rate-limit/rest-api: the
//!   front (Cloudflare) limit per IP shared by all endpoints, "currently
//!   500/10s ... block 30s", error code 1015.
//! - Weights: `endpoints.rs` (one place per endpoint).

use crate::endpoints;
use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::rotation::RotationCall;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const FRONT_IP: &str = "front_ip";
pub const PUBLIC_IP: &str = "public_ip";
pub const MANAGEMENT_UID: &str = "management_uid";

pub static TIERS: [Tier; 3] = [
    Tier {
        name: FRONT_IP,
        scope: TierScope::Ip,
        capacity: 500,
        period: Duration::from_secs(10),
    },
    Tier {
        name: PUBLIC_IP,
        scope: TierScope::Ip,
        capacity: 2000,
        period: Duration::from_secs(30),
    },
    // VIP0, the lowest level; a higher level only raises it.
    Tier {
        name: MANAGEMENT_UID,
        scope: TierScope::Account,
        capacity: 2000,
        period: Duration::from_secs(30),
    },
];

/// How long the front limit blocks an IP that exceeded it.
pub const FRONT_IP_BLOCK: Duration = Duration::from_secs(30);

/// What a call in the Management pool (per UID: sub-account and key
/// management) spends: one unit of the front limit and its weight there.
pub const fn management(weight: u32) -> [Charge; 2] {
    [charge(FRONT_IP, 1), charge(MANAGEMENT_UID, weight)]
}

/// What a call in the Public pool (per IP) spends.
pub const fn public(weight: u32) -> [Charge; 2] {
    [charge(FRONT_IP, 1), charge(PUBLIC_IP, weight)]
}

const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

/// The pool an endpoint's `gw-ratelimit-*` headers speak of (every charge
/// but the front limit's, which no header reports), and its weight there.
pub fn pool_of(endpoint: &Endpoint) -> (LimitScope, u32) {
    let pool = endpoint
        .charges
        .iter()
        .find(|c| c.tier != FRONT_IP)
        .expect("every KuCoin endpoint spends a pool (endpoints.rs)");
    let scope = if pool.tier == MANAGEMENT_UID {
        LimitScope::Account
    } else {
        LimitScope::Ip
    };
    (scope, pool.weight)
}

/// Own-key probe (`user/api-key`) and master listing (`sub/api-key`) weigh
/// the same (20) in the same pool.
pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster) => endpoints::DELETE_SUB_KEY.charges,
        Operation::Route(Route::DisableByMaster) => endpoints::UPDATE_SUB_KEY.charges,
        // Never sent: no such KuCoin call is made (see lib.rs).
        Operation::Route(
            Route::DeleteSelf | Route::DisableSelf | Route::DeleteByBroker | Route::Escalate,
        ) => &[],
        Operation::Probe => endpoints::QUERY_KEY.charges,
        Operation::ClockSync => endpoints::SERVER_TIME.charges,
        Operation::List(ListKind::SubAccounts) => endpoints::LIST_SUB_ACCOUNTS.charges,
        Operation::List(ListKind::SubAccountKeys) => endpoints::LIST_SUB_KEYS.charges,
        Operation::Rotate(RotationCall::Describe) => endpoints::LIST_SUB_KEYS.charges,
        Operation::Rotate(RotationCall::Create) => endpoints::CREATE_SUB_KEY.charges,
        Operation::Rotate(RotationCall::Test) => endpoints::QUERY_KEY.charges,
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn every_charge_names_a_tier() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn the_management_pool_fits_the_documented_number_of_deletes() {
        let pool = TIERS.iter().find(|t| t.name == MANAGEMENT_UID).unwrap();
        let per_delete = charges(Operation::Route(Route::DeleteByMaster))
            .iter()
            .find(|c| c.tier == MANAGEMENT_UID)
            .unwrap()
            .weight;
        assert_eq!(pool.capacity / per_delete, 66, "2000 per 30 s at weight 30");
    }
}
