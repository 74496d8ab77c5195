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

use crate::endpoints::{self, Endpoint, Pool};
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

const fn charges_of(e: &Endpoint) -> [Charge; 2] {
    let pool = match e.pool {
        Pool::Management => MANAGEMENT_UID,
        Pool::Public => PUBLIC_IP,
    };
    [
        Charge {
            tier: FRONT_IP,
            weight: 1,
        },
        Charge {
            tier: pool,
            weight: e.weight,
        },
    ]
}

static DELETE_BY_MASTER: [Charge; 2] = charges_of(&endpoints::DELETE_SUB_KEY);
static DISABLE_BY_MASTER: [Charge; 2] = charges_of(&endpoints::UPDATE_SUB_KEY);
/// Own-key probe (`user/api-key`) and master listing (`sub/api-key`) weigh
/// the same (20) in the same pool.
static PROBE: [Charge; 2] = charges_of(&endpoints::QUERY_KEY);
static CLOCK_SYNC: [Charge; 2] = charges_of(&endpoints::SERVER_TIME);
static DESCRIBE: [Charge; 2] = charges_of(&endpoints::LIST_SUB_KEYS);
static CREATE: [Charge; 2] = charges_of(&endpoints::CREATE_SUB_KEY);
static TEST: [Charge; 2] = charges_of(&endpoints::QUERY_KEY);

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster) => &DELETE_BY_MASTER,
        Operation::Route(Route::DisableByMaster) => &DISABLE_BY_MASTER,
        // Never sent: no such KuCoin call is made (see lib.rs).
        Operation::Route(
            Route::DeleteSelf | Route::DisableSelf | Route::DeleteByBroker | Route::Escalate,
        ) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => &CLOCK_SYNC,
        // No list endpoint is used yet: nothing to discover, nothing spent.
        Operation::List(_) => &[],
        Operation::Rotate(RotationCall::Describe) => &DESCRIBE,
        Operation::Rotate(RotationCall::Create) => &CREATE,
        Operation::Rotate(RotationCall::Test) => &TEST,
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
