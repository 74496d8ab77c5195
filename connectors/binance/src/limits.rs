//! Binance's rate-limit tiers and what each call spends.
//!
//! Sources:
//! - /api/*: all endpoints share 6,000 request weight per minute per IP (the
//!   CAAS rate-limits page below); binance/binance-spot-api-docs `rest-api.md`
//!   ("IP Limits"): header `X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter)`;
//!   HTTP 429 with `Retry-After` (seconds) when exceeded, HTTP 418 (IP ban,
//!   "from 2 minutes to 3 days", `Retry-After` until it is over) for those
//!   who keep sending. `GET /api/v3/time` weighs 1.
//! - /sapi/*: https://developers.binance.com/zh-CN/docs/products/caas/basics/4.rate-limits
//!   (the page is in English):
//!   each endpoint is IP- or UID-limited and counted on its own: every
//!   IP-limited endpoint has an independent 12,000 per minute, every
//!   UID-limited endpoint an independent 180,000 per minute; headers
//!   `X-SAPI-USED-IP-WEIGHT-1M` / `X-SAPI-USED-UID-WEIGHT-1M`; exceeding is
//!   always 429 (no 418 on /sapi).
//! - Weights: binance/binance-connector-python
//!   `clients/sub_account/src/binance_sdk_sub_account/rest_api/api/api_management_api.py`
//!   (every sub-account key endpoint: Weight(UID) 3000),
//!   `clients/wallet/src/binance_sdk_wallet/rest_api/api/account_api.py` (`GET /sapi/v1/account/apiRestrictions`:
//!   Weight(IP) 1), https://developers.binance.com/docs/binance_link/exchange-link/account/
//!   (`Update-IP-Restriction-for-Sub-Account-API-key-For-Master-Account`:
//!   Weight(UID) 3000; `Delete-Sub-Account-Api-Key` and
//!   `Change-Sub-Account-Api-Permission` state no weight: we charge them the
//!   3000 that the broker's other key endpoints document, and note that the
//!   delete allows "1 api key for each sub account per second").
//!
//! - The broker's listings (`GET /sapi/v1/broker/subAccount`,
//!   `GET /sapi/v1/broker/subAccountApi`, developers.binance.com
//!   `binance_link/exchange-link/account/` "Query Sub Account", "Query Sub
//!   Account Api Key"): no weight could be confirmed; each is charged the
//!   3000 of the broker's key endpoints, on a budget of its own.
//!
//! Binance's windows are fixed: "a 1 MINUTE interval starts every minute"
//! (https://developers.binance.com/docs/binance-spot-api-docs/websocket-api/rate-limits).

use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::rotation::RotationCall;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const IP_API: &str = "ip_api";
pub const IP_API_RESTRICTIONS: &str = "ip_sapi_api_restrictions";
pub const IP_SUB_ACCOUNT_LIST: &str = "ip_sapi_sub_account_list";
pub const UID_SUB_KEY_DELETE: &str = "uid_sub_key_delete";
pub const UID_SUB_KEY_QUERY: &str = "uid_sub_key_query";
pub const UID_SUB_KEY_PERMISSION: &str = "uid_sub_key_permission";
pub const UID_SUB_KEY_IP_RESTRICTION: &str = "uid_sub_key_ip_restriction";
pub const UID_SUB_KEY_IP_READ: &str = "uid_sub_key_ip_read";
pub const UID_SUB_KEY_CREATE: &str = "uid_sub_key_create";
pub const UID_BROKER_KEY_DELETE: &str = "uid_broker_key_delete";
pub const UID_BROKER_KEY_PERMISSION: &str = "uid_broker_key_permission";
pub const UID_BROKER_KEY_IP_RESTRICTION: &str = "uid_broker_key_ip_restriction";
pub const UID_BROKER_SUB_ACCOUNT_LIST: &str = "uid_broker_sub_account_list";
pub const UID_BROKER_KEY_QUERY: &str = "uid_broker_key_query";

pub const API_IP_PER_MINUTE: u32 = 6_000;
pub const SAPI_IP_PER_MINUTE: u32 = 12_000;
pub const SAPI_UID_PER_MINUTE: u32 = 180_000;
/// Weight(UID) of every sub-account key endpoint.
pub const KEY_ENDPOINT_WEIGHT: u32 = 3_000;

pub const WINDOW: Duration = Duration::from_secs(60);

pub const USED_WEIGHT_API: &str = "X-MBX-USED-WEIGHT-1M";
pub const USED_WEIGHT_SAPI_IP: &str = "X-SAPI-USED-IP-WEIGHT-1M";
pub const USED_WEIGHT_SAPI_UID: &str = "X-SAPI-USED-UID-WEIGHT-1M";

/// How long to stay away after an HTTP 418 that carries no `Retry-After`:
/// the shortest documented ban.
pub const IP_BAN_PAUSE: Duration = Duration::from_secs(120);

const fn ip(name: &'static str, capacity: u32) -> Tier {
    Tier {
        name,
        scope: TierScope::Ip,
        capacity,
        period: WINDOW,
    }
}

const fn uid(name: &'static str) -> Tier {
    Tier {
        name,
        scope: TierScope::Account,
        capacity: SAPI_UID_PER_MINUTE,
        period: WINDOW,
    }
}

pub static TIERS: [Tier; 14] = [
    ip(IP_API, API_IP_PER_MINUTE),
    ip(IP_API_RESTRICTIONS, SAPI_IP_PER_MINUTE),
    ip(IP_SUB_ACCOUNT_LIST, SAPI_IP_PER_MINUTE),
    uid(UID_SUB_KEY_DELETE),
    uid(UID_SUB_KEY_QUERY),
    uid(UID_SUB_KEY_PERMISSION),
    uid(UID_SUB_KEY_IP_RESTRICTION),
    uid(UID_SUB_KEY_IP_READ),
    uid(UID_SUB_KEY_CREATE),
    uid(UID_BROKER_KEY_DELETE),
    uid(UID_BROKER_KEY_PERMISSION),
    uid(UID_BROKER_KEY_IP_RESTRICTION),
    uid(UID_BROKER_SUB_ACCOUNT_LIST),
    uid(UID_BROKER_KEY_QUERY),
];

/// What a reply's usage header is read against: the tier the endpoint's
/// charge names, the weight it spends there, and the header that reports
/// the weight used in the current minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub tier: &'static str,
    pub weight: u32,
    pub capacity: u32,
    pub scope: LimitScope,
    pub used_header: &'static str,
}

/// The limit an endpoint counts against. Every Binance endpoint is counted
/// on one budget of its own (see the module notes), so it has one charge;
/// its tier gives the capacity and the scope, and the scope (and /api
/// against /sapi) the header.
pub fn limit_of(endpoint: &Endpoint) -> Limit {
    let charge = endpoint.charges[0];
    let tier = TIERS
        .iter()
        .find(|t| t.name == charge.tier)
        .expect("an endpoint charges a tier of TIERS (see endpoints.rs's test)");
    let (scope, used_header) = match (tier.scope, tier.name) {
        (TierScope::Ip, IP_API) => (LimitScope::Ip, USED_WEIGHT_API),
        (TierScope::Ip, _) => (LimitScope::Ip, USED_WEIGHT_SAPI_IP),
        (TierScope::Account, _) => (LimitScope::Account, USED_WEIGHT_SAPI_UID),
    };
    Limit {
        tier: tier.name,
        weight: charge.weight,
        capacity: tier.capacity,
        scope,
        used_header,
    }
}

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

/// `GET /api/v3/time`: weight 1.
pub const SERVER_TIME: Charge = charge(IP_API, 1);
/// `GET /sapi/v1/account/apiRestrictions`: Weight(IP) 1.
pub const API_RESTRICTIONS: Charge = charge(IP_API_RESTRICTIONS, 1);
/// `GET /sapi/v1/sub-account/list`: Weight(IP) 1 (Query-Sub-account-List).
pub const SUB_ACCOUNT_LIST: Charge = charge(IP_SUB_ACCOUNT_LIST, 1);
const fn key_endpoint(tier: &'static str) -> Charge {
    charge(tier, KEY_ENDPOINT_WEIGHT)
}
pub const SUB_KEY_DELETE: Charge = key_endpoint(UID_SUB_KEY_DELETE);
pub const SUB_KEY_QUERY: Charge = key_endpoint(UID_SUB_KEY_QUERY);
pub const SUB_KEY_PERMISSION: Charge = key_endpoint(UID_SUB_KEY_PERMISSION);
pub const SUB_KEY_IP_RESTRICTION: Charge = key_endpoint(UID_SUB_KEY_IP_RESTRICTION);
/// `GET /sapi/v1/sub-account/subAccountApi/ipRestriction`: Weight(UID) 3000.
pub const SUB_KEY_IP_READ: Charge = key_endpoint(UID_SUB_KEY_IP_READ);
/// `POST /sapi/v1/sub-account/subAccountApi`: Weight(UID) 3000
/// (Create-Sub-account-API-Key).
pub const SUB_KEY_CREATE: Charge = key_endpoint(UID_SUB_KEY_CREATE);
pub const BROKER_KEY_DELETE: Charge = key_endpoint(UID_BROKER_KEY_DELETE);
pub const BROKER_SUB_ACCOUNT_LIST: Charge = key_endpoint(UID_BROKER_SUB_ACCOUNT_LIST);
pub const BROKER_KEY_QUERY: Charge = key_endpoint(UID_BROKER_KEY_QUERY);
pub const BROKER_KEY_PERMISSION: Charge = key_endpoint(UID_BROKER_KEY_PERMISSION);
pub const BROKER_KEY_IP_RESTRICTION: Charge = key_endpoint(UID_BROKER_KEY_IP_RESTRICTION);

static DELETE_BY_MASTER: [Charge; 1] = [SUB_KEY_DELETE];
static DELETE_BY_BROKER: [Charge; 1] = [BROKER_KEY_DELETE];
/// A disable binds the key to an unroutable IP, then strips its permissions:
/// two calls, the master's or the broker's endpoints after the credential
/// ([`charges_for_row`]); [`charges`] names both pairs.
static DISABLE: [Charge; 4] = [
    SUB_KEY_IP_RESTRICTION,
    SUB_KEY_PERMISSION,
    BROKER_KEY_IP_RESTRICTION,
    BROKER_KEY_PERMISSION,
];
static DISABLE_BY_MASTER: [Charge; 2] = [SUB_KEY_IP_RESTRICTION, SUB_KEY_PERMISSION];
static DISABLE_BY_BROKER: [Charge; 2] = [BROKER_KEY_IP_RESTRICTION, BROKER_KEY_PERMISSION];
/// A probe reads the key's own restrictions, or the master's key listing of
/// the sub account (or both, when the first cannot tell).
static PROBE: [Charge; 2] = [API_RESTRICTIONS, SUB_KEY_QUERY];
static PROBE_OWN: [Charge; 1] = [API_RESTRICTIONS];
static PROBE_VIA_MASTER: [Charge; 1] = [SUB_KEY_QUERY];

/// Who acts for a row, as far as the budget is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowMaterial {
    pub own_secret: bool,
    /// The managing credential, when the row has one and names its account.
    pub manager: Option<keyrevoke_core::CredentialRole>,
}

/// What an operation spends for a row: only the calls it makes.
pub fn charges_for_row(op: Operation, row: RowMaterial) -> &'static [Charge] {
    use keyrevoke_core::CredentialRole::{Broker, Master};
    match (op, row.own_secret, row.manager) {
        (Operation::Route(Route::DisableByMaster), _, Some(Broker)) => &DISABLE_BY_BROKER,
        (Operation::Route(Route::DisableByMaster), _, Some(Master)) => &DISABLE_BY_MASTER,
        // The master's listing is read only when the key's own read cannot
        // tell (see `probe`), and only a master has one.
        (Operation::Probe, true, Some(Master)) => &PROBE,
        (Operation::Probe, true, _) => &PROBE_OWN,
        (Operation::Probe, false, Some(Master)) => &PROBE_VIA_MASTER,
        (Operation::Probe, false, _) => &[],
        _ => charges(op),
    }
}
static CLOCK_SYNC: [Charge; 1] = [SERVER_TIME];
static LIST_SUB_ACCOUNTS: [Charge; 1] = [SUB_ACCOUNT_LIST];
static LIST_SUB_KEYS: [Charge; 1] = [SUB_KEY_QUERY];
/// Describe: the master's key listing (permissions, name, time), then the
/// key's IP restriction (its IPs), two endpoints with budgets of their own.
static DESCRIBE: [Charge; 2] = [SUB_KEY_QUERY, SUB_KEY_IP_READ];
static CREATE: [Charge; 1] = [SUB_KEY_CREATE];
static BROKER_LIST_SUB_ACCOUNTS: [Charge; 1] = [BROKER_SUB_ACCOUNT_LIST];
static BROKER_LIST_SUB_KEYS: [Charge; 1] = [BROKER_KEY_QUERY];

/// What one page of a listing spends: a broker lists with its own
/// endpoints.
pub fn list_charges(
    kind: ListKind,
    role: Option<keyrevoke_core::CredentialRole>,
) -> &'static [Charge] {
    use keyrevoke_core::CredentialRole::Broker;
    match (kind, role) {
        (ListKind::SubAccounts, Some(Broker)) => &BROKER_LIST_SUB_ACCOUNTS,
        (ListKind::SubAccountKeys, Some(Broker)) => &BROKER_LIST_SUB_KEYS,
        _ => charges(Operation::List(kind)),
    }
}

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(Route::DeleteByMaster) => &DELETE_BY_MASTER,
        Operation::Route(Route::DeleteByBroker) => &DELETE_BY_BROKER,
        Operation::Route(Route::DisableByMaster) => &DISABLE,
        Operation::Route(Route::DeleteSelf | Route::DisableSelf | Route::Escalate) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => &CLOCK_SYNC,
        Operation::List(ListKind::SubAccounts) => &LIST_SUB_ACCOUNTS,
        Operation::List(ListKind::SubAccountKeys) => &LIST_SUB_KEYS,
        Operation::Rotate(RotationCall::Describe) => &DESCRIBE,
        Operation::Rotate(RotationCall::Create) => &CREATE,
        // The new key reads its own restrictions.
        Operation::Rotate(RotationCall::Test) => &PROBE_OWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn a_broker_lists_from_its_own_budgets() {
        use keyrevoke_core::CredentialRole::{Broker, Master};
        let tier = |kind, role| list_charges(kind, Some(role))[0].tier;
        assert_eq!(
            tier(ListKind::SubAccounts, Broker),
            UID_BROKER_SUB_ACCOUNT_LIST
        );
        assert_eq!(tier(ListKind::SubAccountKeys, Broker), UID_BROKER_KEY_QUERY);
        assert_eq!(tier(ListKind::SubAccounts, Master), IP_SUB_ACCOUNT_LIST);
        assert_eq!(tier(ListKind::SubAccountKeys, Master), UID_SUB_KEY_QUERY);
    }

    #[test]
    fn every_charge_names_a_tier_and_fits_in_it() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn a_row_is_charged_only_the_calls_made_for_it() {
        use keyrevoke_core::CredentialRole::{Broker, Master};
        let row = |own_secret, manager| RowMaterial {
            own_secret,
            manager,
        };
        let tiers = |c: &[Charge]| c.iter().map(|c| c.tier).collect::<Vec<_>>();
        let disable = Operation::Route(Route::DisableByMaster);
        assert_eq!(
            tiers(charges_for_row(disable, row(false, Some(Master)))),
            vec![UID_SUB_KEY_IP_RESTRICTION, UID_SUB_KEY_PERMISSION]
        );
        assert_eq!(
            tiers(charges_for_row(disable, row(false, Some(Broker)))),
            vec![UID_BROKER_KEY_IP_RESTRICTION, UID_BROKER_KEY_PERMISSION]
        );
        assert_eq!(
            tiers(charges_for_row(Operation::Probe, row(true, None))),
            vec![IP_API_RESTRICTIONS]
        );
        assert_eq!(
            tiers(charges_for_row(Operation::Probe, row(false, Some(Master)))),
            vec![UID_SUB_KEY_QUERY]
        );
        for op in Operation::all() {
            for r in [
                row(true, Some(Master)),
                row(false, Some(Broker)),
                row(true, None),
            ] {
                for c in charges_for_row(op, r) {
                    assert!(
                        charges(op).contains(c),
                        "{op:?} {r:?}: {c:?} within charges"
                    );
                }
            }
        }
    }

    #[test]
    fn a_master_may_delete_sixty_sub_keys_a_minute() {
        assert_eq!(SAPI_UID_PER_MINUTE / SUB_KEY_DELETE.weight, 60);
    }
}
