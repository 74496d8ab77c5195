//! Bitget's rate-limit tiers and what each call spends.
//!
//! Sources: each endpoint's own page of bitget.com/api-doc (its "Rate
//! limit" / "Frequency limit" line, cited in `endpoints.rs`) and the
//! quick-start's "Access Restriction": limits are counted per endpoint on
//! its own, per UID for private endpoints and per IP for public ones; over
//! a limit the reply is HTTP 429 "Too Many Requests".
//!
//! No ban or lockout beyond the 429 is documented, so no tier stands for
//! one. Where two versions of a page disagree (the sub-account list: 10 per
//! second in English, 1 per second in Chinese), the lower is taken: never
//! over a limit.

use crate::endpoints;
use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const UID_SUB_KEY_DELETE: &str = "uid_sub_key_delete";
pub const UID_BROKER_SUB_KEY_DELETE: &str = "uid_broker_sub_key_delete";
pub const UID_VIRTUAL_SUB_KEY_MODIFY: &str = "uid_virtual_sub_key_modify";
pub const UID_VIRTUAL_SUB_KEY_LIST: &str = "uid_virtual_sub_key_list";
pub const UID_VIRTUAL_SUB_ACCOUNT_LIST: &str = "uid_virtual_sub_account_list";
pub const UID_ACCOUNT_INFO: &str = "uid_account_info";
pub const IP_PUBLIC_TIME: &str = "ip_public_time";

pub const SECOND: Duration = Duration::from_secs(1);

const fn per_second(name: &'static str, scope: TierScope, capacity: u32) -> Tier {
    Tier {
        name,
        scope,
        capacity,
        period: SECOND,
    }
}

pub static TIERS: [Tier; 7] = [
    per_second(UID_SUB_KEY_DELETE, TierScope::Account, 10),
    per_second(UID_BROKER_SUB_KEY_DELETE, TierScope::Account, 20),
    per_second(UID_VIRTUAL_SUB_KEY_MODIFY, TierScope::Account, 5),
    per_second(UID_VIRTUAL_SUB_KEY_LIST, TierScope::Account, 5),
    per_second(UID_VIRTUAL_SUB_ACCOUNT_LIST, TierScope::Account, 1),
    per_second(UID_ACCOUNT_INFO, TierScope::Account, 1),
    per_second(IP_PUBLIC_TIME, TierScope::Ip, 20),
];

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

/// A disable reads the sub account's keys (for the key's label, which the
/// modify requires), then modifies the key.
static DISABLE: [Charge; 2] = [
    charge(UID_VIRTUAL_SUB_KEY_LIST, 1),
    charge(UID_VIRTUAL_SUB_KEY_MODIFY, 1),
];
/// A probe reads the master's listing of the sub account's keys, or the
/// key's own account information (see lib.rs): both are charged.
static PROBE: [Charge; 2] = [
    charge(UID_VIRTUAL_SUB_KEY_LIST, 1),
    charge(UID_ACCOUNT_INFO, 1),
];

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster) => endpoints::DELETE_SUB_KEY.charges,
        Operation::Route(Route::DeleteByBroker) => endpoints::BROKER_DELETE_SUB_KEY.charges,
        Operation::Route(Route::DisableByMaster) => &DISABLE,
        Operation::Route(_) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => endpoints::SERVER_TIME.charges,
        Operation::List(ListKind::SubAccounts) => endpoints::LIST_VIRTUAL_SUB_ACCOUNTS.charges,
        Operation::List(ListKind::SubAccountKeys) => endpoints::LIST_VIRTUAL_SUB_KEYS.charges,
        // Not rotated here (`can_rotate` is false): never sent.
        Operation::Rotate(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::{ACCOUNT_INFO, LIST_VIRTUAL_SUB_KEYS, MODIFY_VIRTUAL_SUB_KEY};
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
                [&LIST_VIRTUAL_SUB_KEYS, &MODIFY_VIRTUAL_SUB_KEY],
            ),
            (Operation::Probe, [&LIST_VIRTUAL_SUB_KEYS, &ACCOUNT_INFO]),
        ] {
            for e in calls {
                for c in e.charges {
                    assert!(charges(op).contains(c), "{op:?}: {c:?} of {}", e.path);
                }
            }
        }
    }
}
