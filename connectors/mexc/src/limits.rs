//! MEXC's rate-limit tiers and what each call spends.
//!
//! Source: mexcdevelop/apidocs `spot_v3_en`, "LIMITS": "Each endpoint with
//! IP limits has an independent 500 every 10 second limit. Each endpoint
//! with UID limits has an independent 500 every 10 second limit"; "The
//! account is used as the basic unit of speed limit for the endpoints that
//! need to carry access keys". Exceeding: HTTP 429; repeated: an IP ban
//! (HTTP 418, "from 2 minutes to 3 days"), both with `Retry-After`
//! (seconds). HTTP 403: "the WAF Limit (Web Application Firewall) has been
//! violated".
//!
//! Unconfirmed: the signed endpoints' weights are printed as "Weight(IP)"
//! while the text says keyed endpoints are limited per account. keyrevoke
//! charges both, each endpoint to its own pair of tiers, which is never
//! more than either reading allows.

use crate::endpoints::{DELETE_SUB_KEY, LIST_SUB_ACCOUNTS, LIST_SUB_KEYS, SERVER_TIME};
use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const IP_SUB_KEY_DELETE: &str = "ip_sub_key_delete";
pub const UID_SUB_KEY_DELETE: &str = "uid_sub_key_delete";
pub const IP_SUB_KEY_LIST: &str = "ip_sub_key_list";
pub const UID_SUB_KEY_LIST: &str = "uid_sub_key_list";
pub const IP_SUB_ACCOUNT_LIST: &str = "ip_sub_account_list";
pub const UID_SUB_ACCOUNT_LIST: &str = "uid_sub_account_list";
pub const IP_ACCOUNT: &str = "ip_account";
pub const UID_ACCOUNT: &str = "uid_account";
/// "Account Information": "rate limit: 2 times/s".
pub const UID_ACCOUNT_PER_SECOND: &str = "uid_account_per_second";
pub const IP_TIME: &str = "ip_time";

/// Every endpoint's own window: 500 weight per 10 s.
pub const PER_ENDPOINT: u32 = 500;
pub const WINDOW: Duration = Duration::from_secs(10);

/// How long to stay away after an HTTP 418 or 403 that carries no
/// `Retry-After`: the shortest documented ban.
pub const IP_BAN_PAUSE: Duration = Duration::from_secs(120);

const fn tier(name: &'static str, scope: TierScope) -> Tier {
    Tier {
        name,
        scope,
        capacity: PER_ENDPOINT,
        period: WINDOW,
    }
}

pub static TIERS: [Tier; 10] = [
    tier(IP_SUB_KEY_DELETE, TierScope::Ip),
    tier(UID_SUB_KEY_DELETE, TierScope::Account),
    tier(IP_SUB_KEY_LIST, TierScope::Ip),
    tier(UID_SUB_KEY_LIST, TierScope::Account),
    tier(IP_SUB_ACCOUNT_LIST, TierScope::Ip),
    tier(UID_SUB_ACCOUNT_LIST, TierScope::Account),
    tier(IP_ACCOUNT, TierScope::Ip),
    tier(UID_ACCOUNT, TierScope::Account),
    Tier {
        name: UID_ACCOUNT_PER_SECOND,
        scope: TierScope::Account,
        capacity: 2,
        period: Duration::from_secs(1),
    },
    tier(IP_TIME, TierScope::Ip),
];

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

/// A probe reads the key's own account, or the master's listing of the sub
/// account: both are charged, each to its own tiers.
static PROBE: [Charge; 5] = [
    charge(IP_ACCOUNT, 10),
    charge(UID_ACCOUNT, 10),
    charge(UID_ACCOUNT_PER_SECOND, 1),
    charge(IP_SUB_KEY_LIST, 1),
    charge(UID_SUB_KEY_LIST, 1),
];

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster) => DELETE_SUB_KEY.charges,
        Operation::Route(_) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => SERVER_TIME.charges,
        // Discovery: the master's sub accounts, then each one's keys.
        Operation::List(ListKind::SubAccounts) => LIST_SUB_ACCOUNTS.charges,
        Operation::List(ListKind::SubAccountKeys) => LIST_SUB_KEYS.charges,
        // Not rotated here (`can_rotate` is false): never sent.
        Operation::Rotate(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::ACCOUNT;
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn every_charge_names_a_tier_and_fits_in_it() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn a_probe_pays_for_either_call_it_may_make() {
        for e in [&ACCOUNT, &LIST_SUB_KEYS] {
            for c in e.charges {
                assert!(PROBE.contains(c), "{c:?} of {} missing from PROBE", e.path);
            }
        }
    }
}
