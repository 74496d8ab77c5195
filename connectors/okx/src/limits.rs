//! OKX's rate-limit tiers and what each call spends.
//!
//! Sources: https://www.okx.com/docs-v5/en/#overview-rate-limits (private
//! REST limits are per User ID, sub-accounts having their own; public ones
//! per IP; beyond a limit, code 50011), and each endpoint's own limit:
//! - delete-apikey: 1 request per second, User ID
//!   (#sub-account-rest-api-delete-the-api-key-of-sub-accounts);
//! - modify-apikey: 1 request per second, User ID
//!   (#sub-account-rest-api-reset-the-api-key-of-a-sub-account);
//! - create a sub-account's API key: 1 request per second, User ID
//!   (#sub-account-rest-api-create-an-api-key-for-a-sub-account);
//! - query sub-account API keys: 20 requests per 2 seconds, User ID
//!   (#sub-account-rest-api-query-the-api-key-of-a-sub-account);
//! - account/config: 5 requests per 2 seconds, User ID
//!   (#trading-account-rest-api-get-account-configuration);
//! - public/time: 10 requests per 2 seconds, IP
//!   (#public-data-rest-api-get-system-time).
//!
//! The ND broker's sub-key endpoints (docs-v5/broker_en) are charged to the
//! same tiers: their own limits could not be confirmed in the stored copy of
//! the broker docs, and the sub-account endpoints' are the strictest OKX
//! documents for key management. No usage headers are documented.

use keyrevoke_core::rotation::RotationCall;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const IP_PUBLIC: &str = "ip_public";
pub const UID_DELETE_KEY: &str = "uid_delete_key";
pub const UID_MODIFY_KEY: &str = "uid_modify_key";
pub const UID_QUERY_KEY: &str = "uid_query_key";
pub const UID_ACCOUNT_CONFIG: &str = "uid_account_config";
pub const UID_CREATE_KEY: &str = "uid_create_key";

pub static TIERS: [Tier; 6] = [
    Tier {
        name: IP_PUBLIC,
        scope: TierScope::Ip,
        capacity: 10,
        period: Duration::from_secs(2),
    },
    Tier {
        name: UID_DELETE_KEY,
        scope: TierScope::Account,
        capacity: 1,
        period: Duration::from_secs(1),
    },
    Tier {
        name: UID_MODIFY_KEY,
        scope: TierScope::Account,
        capacity: 1,
        period: Duration::from_secs(1),
    },
    Tier {
        name: UID_QUERY_KEY,
        scope: TierScope::Account,
        capacity: 20,
        period: Duration::from_secs(2),
    },
    Tier {
        name: UID_ACCOUNT_CONFIG,
        scope: TierScope::Account,
        capacity: 5,
        period: Duration::from_secs(2),
    },
    Tier {
        name: UID_CREATE_KEY,
        scope: TierScope::Account,
        capacity: 1,
        period: Duration::from_secs(1),
    },
];

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

static DELETE: [Charge; 1] = [charge(UID_DELETE_KEY, 1)];
static MODIFY: [Charge; 1] = [charge(UID_MODIFY_KEY, 1)];
/// A probe reads account/config with the key's own secret, or the sub-key
/// query with the managing credential (both when the first cannot tell):
/// [`probe_charges`] says which for a row.
static PROBE: [Charge; 2] = [charge(UID_ACCOUNT_CONFIG, 1), charge(UID_QUERY_KEY, 1)];
static PROBE_OWN: [Charge; 1] = [charge(UID_ACCOUNT_CONFIG, 1)];
static PROBE_VIA_MANAGER: [Charge; 1] = [charge(UID_QUERY_KEY, 1)];

/// What a probe spends: the key's own read when it has its secret and
/// passphrase, the credential's query when the row allows one, both when
/// both may be made.
pub fn probe_charges(own_material: bool, can_manage: bool) -> &'static [Charge] {
    match (own_material, can_manage) {
        (true, true) => &PROBE,
        (true, false) => &PROBE_OWN,
        (false, true) => &PROBE_VIA_MANAGER,
        (false, false) => &[],
    }
}
static PUBLIC: [Charge; 1] = [charge(IP_PUBLIC, 1)];
static CREATE: [Charge; 1] = [charge(UID_CREATE_KEY, 1)];

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster | Route::DeleteByBroker) => &DELETE,
        Operation::Route(Route::DisableByMaster) => &MODIFY,
        // OKX has no call by which a key deletes or narrows itself.
        Operation::Route(Route::DeleteSelf | Route::DisableSelf | Route::Escalate) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => &PUBLIC,
        // No list endpoint is used yet: nothing to discover, nothing spent.
        Operation::List(_) => &[],
        // Describe: the master's sub-key query; test: the new key's own
        // account/config.
        Operation::Rotate(RotationCall::Describe) => &PROBE_VIA_MANAGER,
        Operation::Rotate(RotationCall::Create) => &CREATE,
        Operation::Rotate(RotationCall::Test) => &PROBE_OWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn every_charge_names_a_tier_that_exists() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn a_probe_spends_only_from_the_tiers_of_the_reads_it_makes() {
        let tiers = |c: &[Charge]| c.iter().map(|c| c.tier).collect::<Vec<_>>();
        assert_eq!(tiers(probe_charges(true, false)), vec![UID_ACCOUNT_CONFIG]);
        assert_eq!(tiers(probe_charges(false, true)), vec![UID_QUERY_KEY]);
        assert_eq!(tiers(probe_charges(true, true)), tiers(&PROBE));
        assert!(probe_charges(false, false).is_empty());
    }

    #[test]
    fn key_writes_are_one_per_second_per_account() {
        let delete = TIERS.iter().find(|t| t.name == UID_DELETE_KEY).unwrap();
        assert_eq!(
            (delete.capacity, delete.period, delete.scope),
            (1, Duration::from_secs(1), TierScope::Account)
        );
    }
}
