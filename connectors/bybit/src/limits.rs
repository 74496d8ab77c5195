//! Bybit's rate-limit tiers and what each call spends.
//! Source: bybit-exchange/docs `docs/v5/rate-limit/rate-limit.mdx`: per IP
//! 600 requests per 5 s (HTTP 403 beyond, "access too frequent", at least
//! 10 minutes off); per UID per second: delete-api, delete-sub-api,
//! update-api, update-sub-api 5; query-api, sub-apikeys, query-sub-members
//! 10; create-sub-api 1 (each endpoint counted on its own).

use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::rotation::RotationCall;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const IP: &str = "ip";
pub const UID_KEY_WRITE: &str = "uid_key_write";
pub const UID_KEY_READ: &str = "uid_key_read";
pub const UID_SUB_MEMBERS: &str = "uid_sub_members";
pub const UID_KEY_CREATE: &str = "uid_key_create";

pub static TIERS: [Tier; 5] = [
    Tier {
        name: IP,
        scope: TierScope::Ip,
        capacity: 600,
        period: Duration::from_secs(5),
    },
    Tier {
        name: UID_KEY_WRITE,
        scope: TierScope::Account,
        capacity: 5,
        period: Duration::from_secs(1),
    },
    Tier {
        name: UID_KEY_READ,
        scope: TierScope::Account,
        capacity: 10,
        period: Duration::from_secs(1),
    },
    Tier {
        name: UID_SUB_MEMBERS,
        scope: TierScope::Account,
        capacity: 10,
        period: Duration::from_secs(1),
    },
    Tier {
        name: UID_KEY_CREATE,
        scope: TierScope::Account,
        capacity: 1,
        period: Duration::from_secs(1),
    },
];

/// How long to stay away after an IP ban (HTTP 403), per the docs.
pub const IP_BAN_PAUSE: Duration = Duration::from_secs(600);

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

/// One key write, by the key itself or by its master: a key acting on
/// itself sends the write straight away (see `act_on_self`).
static KEY_WRITE: [Charge; 2] = [charge(IP, 1), charge(UID_KEY_WRITE, 1)];
static READ: [Charge; 2] = [charge(IP, 1), charge(UID_KEY_READ, 1)];
static PUBLIC: [Charge; 1] = [charge(IP, 1)];
static LIST_SUB_MEMBERS: [Charge; 2] = [charge(IP, 1), charge(UID_SUB_MEMBERS, 1)];
static CREATE_SUB_KEY: [Charge; 2] = [charge(IP, 1), charge(UID_KEY_CREATE, 1)];

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(
            Route::DeleteSelf
            | Route::DisableSelf
            | Route::DeleteByMaster
            | Route::DeleteByBroker
            | Route::DisableByMaster,
        ) => &KEY_WRITE,
        Operation::Route(Route::Escalate) => &[],
        Operation::Probe => &READ,
        Operation::ClockSync => &PUBLIC,
        Operation::List(ListKind::SubAccounts) => &LIST_SUB_MEMBERS,
        // sub-apikeys: the same endpoint, and budget, as a probe via the master.
        Operation::List(ListKind::SubAccountKeys) => &READ,
        // Describe: one page of the master's `sub-apikeys`; test: the new
        // key's own `query-api`; both reads of their signer's UID.
        Operation::Rotate(RotationCall::Describe | RotationCall::Test) => &READ,
        Operation::Rotate(RotationCall::Create) => &CREATE_SUB_KEY,
    }
}
