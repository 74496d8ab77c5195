//! Gate's rate-limit tiers and what each call spends.
//!
//! Sources:
//! - the project's notes `exchanges/gate.md`: sub-account private
//!   endpoints, 80 requests per 10 s per endpoint per UID; beyond, HTTP 429
//!   with label `TOO_MANY_REQUESTS` and the headers
//!   `X-Gate-RateLimit-Requests-Remain`, `X-Gate-RateLimit-Limit`,
//!   `X-Gate-RateLimit-Reset-Timestamp`;
//! - Gate's announcement "API Rate Limit Adjustments" (2024-01-14,
//!   effective 2024-01-22): limits per UID for private endpoints, per IP for
//!   public ones, each endpoint counted on its own; public and other private
//!   endpoints 200 per 10 s.
//!
//! No IP ban beyond the 429 is documented. Unconfirmed: the 80 per 10 s of
//! the sub-account endpoints is the notes' figure; the API docs' own
//! rate-limit table could not be read here.

use crate::endpoints;
use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const UID_SUB_KEY_DELETE: &str = "uid_sub_key_delete";
pub const UID_SUB_KEY_GET: &str = "uid_sub_key_get";
pub const UID_SUB_KEY_UPDATE: &str = "uid_sub_key_update";
pub const UID_SUB_KEY_LIST: &str = "uid_sub_key_list";
pub const UID_SUB_ACCOUNT_LIST: &str = "uid_sub_account_list";
pub const UID_ACCOUNT_DETAIL: &str = "uid_account_detail";
pub const IP_PUBLIC: &str = "ip_public";

/// Each sub-account endpoint's own budget per UID.
pub const SUB_ACCOUNT_PER_WINDOW: u32 = 80;
/// Each other endpoint's own budget (per UID, or per IP when public).
pub const GENERAL_PER_WINDOW: u32 = 200;
pub const WINDOW: Duration = Duration::from_secs(10);

const fn tier(name: &'static str, scope: TierScope, capacity: u32) -> Tier {
    Tier {
        name,
        scope,
        capacity,
        period: WINDOW,
    }
}

pub static TIERS: [Tier; 7] = [
    tier(
        UID_SUB_ACCOUNT_LIST,
        TierScope::Account,
        SUB_ACCOUNT_PER_WINDOW,
    ),
    tier(
        UID_SUB_KEY_DELETE,
        TierScope::Account,
        SUB_ACCOUNT_PER_WINDOW,
    ),
    tier(UID_SUB_KEY_GET, TierScope::Account, SUB_ACCOUNT_PER_WINDOW),
    tier(
        UID_SUB_KEY_UPDATE,
        TierScope::Account,
        SUB_ACCOUNT_PER_WINDOW,
    ),
    tier(UID_SUB_KEY_LIST, TierScope::Account, SUB_ACCOUNT_PER_WINDOW),
    tier(UID_ACCOUNT_DETAIL, TierScope::Account, GENERAL_PER_WINDOW),
    tier(IP_PUBLIC, TierScope::Ip, GENERAL_PER_WINDOW),
];

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

/// A disable reads the key, then writes it back whole.
static DISABLE: [Charge; 2] = [charge(UID_SUB_KEY_GET, 1), charge(UID_SUB_KEY_UPDATE, 1)];
/// A probe reads the master's listing of the sub account, or the key's own
/// account detail (see lib.rs): both are charged.
static PROBE: [Charge; 2] = [charge(UID_SUB_KEY_LIST, 1), charge(UID_ACCOUNT_DETAIL, 1)];

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster) => endpoints::DELETE_SUB_KEY.charges,
        Operation::Route(Route::DisableByMaster) => &DISABLE,
        Operation::Route(_) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => endpoints::SERVER_TIME.charges,
        Operation::List(ListKind::SubAccounts) => endpoints::LIST_SUB_ACCOUNTS.charges,
        Operation::List(ListKind::SubAccountKeys) => endpoints::LIST_SUB_KEYS.charges,
        // Not rotated here (`can_rotate` is false): never sent.
        Operation::Rotate(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{ACCOUNT_DETAIL, GET_SUB_KEY, LIST_SUB_KEYS, UPDATE_SUB_KEY};
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn every_charge_names_a_tier_and_fits_in_it() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn each_operation_pays_for_every_call_it_may_make() {
        for (op, calls) in [
            (
                Operation::Route(Route::DisableByMaster),
                [&GET_SUB_KEY, &UPDATE_SUB_KEY],
            ),
            (Operation::Probe, [&LIST_SUB_KEYS, &ACCOUNT_DETAIL]),
        ] {
            for e in calls {
                for c in e.charges {
                    assert!(charges(op).contains(c), "{op:?}: {c:?} of {}", e.path);
                }
            }
        }
    }
}
