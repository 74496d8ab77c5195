//! The MEXC spot v3 endpoints keyrevoke calls, one place each.
//!
//! Source: mexcdevelop/apidocs, `spot_v3_en` (https://mexcdevelop.github.io/apidocs/spot_v3_en/),
//! sections named beside each endpoint. No endpoint lets a key delete or
//! restrict itself, and none lets a master act on its own keys: such keys
//! are probed and escalated. (An `apiKeyInfo` call that could let a key bind
//! itself to an IP appears in third-party notes but not in the official
//! docs: not used.)

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};
use keyrevoke_core::sign::Params;

/// "Delete the APIKey of a sub-account (For Master Account)": `subAccount`,
/// `apiKey`; permission SPOT_ACCOUNT_READ; Weight(IP) 1. Replies
/// `{"subAccount": "<name>"}`.
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/api/v3/sub-account/apiKey",
    params: &["subAccount", "apiKey"],
    charges: &[
        charge(limits::IP_SUB_KEY_DELETE, 1),
        charge(limits::UID_SUB_KEY_DELETE, 1),
    ],
    source: "spot_v3_en, \"Delete the APIKey of a sub-account (For Master Account)\"",
};

/// "Query the APIKey of a sub-account (For Master Account)": `subAccount`;
/// Weight(IP) 1. Replies `{"subAccount": [{"note", "apiKey", "permissions"
/// (comma-separated), "ip", "creatTime"}]}`.
pub const LIST_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/sub-account/apiKey",
    params: &["subAccount"],
    charges: &[
        charge(limits::IP_SUB_KEY_LIST, 1),
        charge(limits::UID_SUB_KEY_LIST, 1),
    ],
    source: "spot_v3_en, \"Query the APIKey of a sub-account (For Master Account)\"",
};

/// "Query Sub-account List (For Master Account)": `page` (default 1),
/// `limit` (default 10, at most 200); permission SPOT_ACCOUNT_READ;
/// Weight(IP) 1. Replies `{"subAccounts": [{"subAccount", "isFreeze",
/// "createTime", "uid"}]}`, no total: a full page may have a next one.
pub const LIST_SUB_ACCOUNTS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/sub-account/list",
    params: &["page", "limit"],
    charges: &[
        charge(limits::IP_SUB_ACCOUNT_LIST, 1),
        charge(limits::UID_SUB_ACCOUNT_LIST, 1),
    ],
    source: "spot_v3_en, \"Query Sub-account List (For Master Account)\"",
};

/// The most sub accounts one page of [`LIST_SUB_ACCOUNTS`] holds ("Max
/// value: 200").
pub const SUB_ACCOUNTS_PER_PAGE: u32 = 200;

/// "Account Information": any key with SPOT_ACCOUNT_READ; Weight(IP) 10,
/// "rate limit: 2 times/s". Replies `canTrade`, `canWithdraw`,
/// `canDeposit`, `accountType`, `balances`, `permissions`.
pub const ACCOUNT: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/account",
    params: &[],
    charges: &[
        charge(limits::IP_ACCOUNT, 10),
        charge(limits::UID_ACCOUNT, 10),
        charge(limits::UID_ACCOUNT_PER_SECOND, 1),
    ],
    source: "spot_v3_en, \"Account Information\"",
};

/// "Check Server Time": public, Weight(IP) 1; `{"serverTime": ms}`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/time",
    params: &[],
    charges: &[charge(limits::IP_TIME, 1)],
    source: "spot_v3_en, \"Check Server Time\"",
};

pub static ENDPOINTS: [&Endpoint; 5] = [
    &DELETE_SUB_KEY,
    &LIST_SUB_KEYS,
    &LIST_SUB_ACCOUNTS,
    &ACCOUNT,
    &SERVER_TIME,
];

/// The flags of `/api/v3/account` that say what the key may do, as
/// permission names for reports.
pub const ACCOUNT_FLAGS: [&str; 3] = ["canTrade", "canWithdraw", "canDeposit"];

/// What can move funds: withdrawal (the key's own view) and spot transfer
/// (the master's listing: the sub key permissions are SPOT_ACCOUNT_*,
/// SPOT_DEAL_*, CONTRACT_*, SPOT_TRANSFER_READ/WRITE, "Create an APIKey for
/// a sub-account").
pub const FUND_MOVING_PERMISSIONS: [&str; 2] = ["canWithdraw", "SPOT_TRANSFER_WRITE"];

pub fn delete_sub_key_params(sub_account: &str, api_key: &str) -> Params {
    Params::new()
        .with("subAccount", sub_account)
        .with("apiKey", api_key)
}

pub fn list_sub_keys_params(sub_account: &str) -> Params {
    Params::new().with("subAccount", sub_account)
}

/// Page `page` (from 1) of the master's sub accounts, as many as a page holds.
pub fn list_sub_accounts_params(page: u32) -> Params {
    Params::new()
        .with("page", page.to_string())
        .with("limit", SUB_ACCOUNTS_PER_PAGE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::endpoint::endpoint_problems;

    #[test]
    fn every_endpoint_charges_documented_tiers() {
        assert_eq!(
            endpoint_problems(&limits::TIERS, &ENDPOINTS),
            Vec::<String>::new()
        );
    }

    #[test]
    fn builders_send_the_documented_parameters_in_order() {
        let names = |p: &Params| p.names().collect::<Vec<_>>();
        assert_eq!(
            names(&delete_sub_key_params("s", "k")),
            DELETE_SUB_KEY.params
        );
        assert_eq!(names(&list_sub_keys_params("s")), LIST_SUB_KEYS.params);
        assert_eq!(
            names(&list_sub_accounts_params(1)),
            LIST_SUB_ACCOUNTS.params
        );
    }
}
