//! The Binance endpoints keyrevoke calls, one place each, with the
//! parameters they take.
//!
//! Sources:
//! - sub-account keys (master): binance/binance-connector-python
//!   `clients/sub_account/src/binance_sdk_sub_account/rest_api/api/api_management_api.py`
//!   and https://developers.binance.com/docs/sub_account/api-management
//!   (`Delete-Sub-account-API-Key`, `Add-IP-Restriction-for-Sub-Account-API-key`,
//!   `Get-IP-Restriction-for-a-Sub-account-API-Key`);
//! - broker (Binance Link / Exchange Link) sub-account keys:
//!   https://developers.binance.com/docs/binance_link/exchange-link/account/
//!   (`Delete-Sub-Account-Api-Key`, `Change-Sub-Account-Api-Permission`,
//!   `Update-IP-Restriction-for-Sub-Account-API-key-For-Master-Account`);
//! - the key's own permissions: binance/binance-connector-python
//!   `clients/wallet/src/binance_sdk_wallet/rest_api/api/account_api.py`
//!   (`get_api_key_permission`);
//! - server time: binance/binance-spot-api-docs `rest-api.md`
//!   ("Check server time": `{"serverTime": …}`, weight 1).
//!
//! No endpoint lets a key delete, disable or narrow itself, and none lets a
//! master act on its own keys: a leaked master key can only be probed and
//! escalated.

use crate::limits;
use crate::sign::Params;
use keyrevoke_core::endpoint::{Endpoint, Method};

pub const SUB_KEYS_PATH: &str = "/sapi/v1/sub-account/subAccountApi";
pub const API_RESTRICTIONS_PATH: &str = "/sapi/v1/account/apiRestrictions";

/// GET, public: `{"serverTime": ms}`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/time",
    params: &[],
    charges: &[limits::SERVER_TIME],
    source: "binance/binance-spot-api-docs rest-api.md, \"Check server time\"",
};

/// GET, signed with the key itself, any key: `ipRestrict`, `enableReading`,
/// `enableWithdrawals`, `enableInternalTransfer`, `permitsUniversalTransfer`,
/// `enableSpotAndMarginTrading`, … Weight(IP) 1.
pub const API_RESTRICTIONS: Endpoint = Endpoint {
    method: Method::GET,
    path: API_RESTRICTIONS_PATH,
    params: &[],
    charges: &[limits::API_RESTRICTIONS],
    source: "binance/binance-connector-python clients/wallet account_api.py, get_api_key_permission",
};

/// DELETE, master: `email`, `subAccountApiKey`. Replies `{}`. Asset
/// sub-accounts are not supported; the caller must pass the KYC IP check.
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::DELETE,
    path: SUB_KEYS_PATH,
    params: &["email", "subAccountApiKey"],
    charges: &[limits::SUB_KEY_DELETE],
    source: "developers.binance.com/docs/sub_account/api-management Delete-Sub-account-API-Key",
};

/// GET, master: `email`; optional `subAccountApiKey` (exact match), `page`
/// (default 1), `size` (default 30, max 100). Replies `{"total", "rows":
/// [{"email", "apiName", "apikey", "canTrade", "canMarginLoanRepay",
/// "canFuturesTrade", "canUniversalTransfer", "canVanillaOptions",
/// "timestamp"}]}`.
pub const QUERY_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: SUB_KEYS_PATH,
    params: &["email", "subAccountApiKey", "page", "size"],
    charges: &[limits::SUB_KEY_QUERY],
    source: "binance/binance-connector-python clients/sub_account api_management_api.py (query sub-account API keys)",
};

/// POST, master whose key holds "Enable Spot & Margin Trading" (TRADE):
/// `email`, `apiName`, `status` (1 unrestricted, 2 trusted IPs only, 3 a
/// third party's) mandatory; `ipAddress` (comma-separated, at most 500
/// characters) when status is 2; `canTrade`, `canMarginLoanRepay`,
/// `canFuturesTrade`, `canUniversalTransfer`, `canVanillaOptions` (default
/// false). Replies `{"apiName", "apiKey", "secretKey" (shown once), the
/// five flags, "status", "ipList"}`. Weight(UID) 3000.
/// https://developers.binance.com/docs/sub_account/api-management/Create-Sub-account-API-Key;
/// binance-connector-python `CreateSubAccountApiKeyResponse`. The v2 path
/// (`/sapi/v2/sub-account/subAccountApi`) only adds the FIX API flags,
/// which only Ed25519 keys may hold: the HMAC keys rotated here use v1.
pub const CREATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: SUB_KEYS_PATH,
    params: &[
        "email",
        "apiName",
        "status",
        "ipAddress",
        "canTrade",
        "canMarginLoanRepay",
        "canFuturesTrade",
        "canUniversalTransfer",
        "canVanillaOptions",
    ],
    charges: &[limits::SUB_KEY_CREATE],
    source: "developers.binance.com/docs/sub_account/api-management Create-Sub-account-API-Key",
};

/// GET, master: `email`, `subAccountApiKey`. Replies `{"ipRestrict"
/// ("true"/"false", a string in the docs' example), "ipList", "updateTime",
/// "apiKey"}`: where a sub key's IPs are read (the key listing has none).
/// Weight(UID) 3000. binance-connector-python
/// `GetIpRestrictionForASubAccountApiKeyResponse`.
pub const GET_SUB_KEY_IP_RESTRICTION: Endpoint = Endpoint {
    method: Method::GET,
    path: "/sapi/v1/sub-account/subAccountApi/ipRestriction",
    params: &["email", "subAccountApiKey"],
    charges: &[limits::SUB_KEY_IP_READ],
    source: "developers.binance.com/docs/sub_account/api-management Get-IP-Restriction-for-a-Sub-account-API-Key",
};

/// GET, master: optional `email`, `isFreeze`, `page` (default 1), `limit`
/// (default 1, max 200). Replies `{"subAccounts": [{"subUserId", "email",
/// "remark", "isFreeze", "createTime", "isManagedSubAccount",
/// "isAssetManagementSubAccount"}]}`, no total. Weight(IP) 1
/// (https://developers.binance.com/docs/sub_account/account-management/Query-Sub-account-List).
pub const SUB_ACCOUNT_LIST: Endpoint = Endpoint {
    method: Method::GET,
    path: "/sapi/v1/sub-account/list",
    params: &["page", "limit"],
    charges: &[limits::SUB_ACCOUNT_LIST],
    source: "developers.binance.com/docs/sub_account/account-management Query-Sub-account-List",
};

/// POST, master: `email`, `subAccountApiKey`, optional `canTrade`,
/// `canMarginLoanRepay`, `canFuturesTrade`, `canUniversalTransfer`,
/// `canVanillaOptions`.
pub const SUB_KEY_PERMISSION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v1/sub-account/subAccountApiPermission",
    params: &[
        "email",
        "subAccountApiKey",
        "canTrade",
        "canMarginLoanRepay",
        "canFuturesTrade",
        "canUniversalTransfer",
        "canVanillaOptions",
    ],
    charges: &[limits::SUB_KEY_PERMISSION],
    source: "binance/binance-connector-python clients/sub_account api_management_api.py (sub-account API permission)",
};

/// POST, master with "Enable Spot & Margin Trading": `email`,
/// `subAccountApiKey`, `status` (1 unrestricted, 2 trusted IPs only),
/// `ipAddress` (comma-separated).
pub const SUB_KEY_IP_RESTRICTION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v2/sub-account/subAccountApi/ipRestriction",
    params: &["email", "subAccountApiKey", "status", "ipAddress"],
    charges: &[limits::SUB_KEY_IP_RESTRICTION],
    source: "developers.binance.com/docs/sub_account/api-management Add-IP-Restriction-for-Sub-Account-API-key",
};

/// DELETE, broker with "trade" enabled: `subAccountId`, `subAccountApiKey`;
/// "1 api key for each sub account per second". Replies `{}`.
pub const DELETE_BROKER_KEY: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/sapi/v1/broker/subAccountApi",
    params: &["subAccountId", "subAccountApiKey"],
    charges: &[limits::BROKER_KEY_DELETE],
    source: "developers.binance.com/docs/binance_link/exchange-link/account Delete-Sub-Account-Api-Key",
};

/// POST, broker with "trade" enabled: `subAccountId`, `subAccountApiKey`,
/// `canTrade`, `marginTrade`, `futuresTrade` (all mandatory).
pub const BROKER_KEY_PERMISSION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v1/broker/subAccountApi/permission",
    params: &[
        "subAccountId",
        "subAccountApiKey",
        "canTrade",
        "marginTrade",
        "futuresTrade",
    ],
    charges: &[limits::BROKER_KEY_PERMISSION],
    source: "developers.binance.com/docs/binance_link/exchange-link/account Change-Sub-Account-Api-Permission",
};

/// POST, broker: `subAccountId`, `subAccountApiKey`, `status`, `ipAddress`.
pub const BROKER_KEY_IP_RESTRICTION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v2/broker/subAccountApi/ipRestriction",
    params: &["subAccountId", "subAccountApiKey", "status", "ipAddress"],
    charges: &[limits::BROKER_KEY_IP_RESTRICTION],
    source: "developers.binance.com/docs/binance_link/exchange-link/account Update-IP-Restriction-for-Sub-Account-API-key-For-Master-Account",
};

/// GET, broker: optional `subAccountId`, `page` (default 1), `size`
/// (default and max 500). Replies an array of `{"subaccountId", "email",
/// "tag", …, "createTime"}`, no total ("Query Sub Account",
/// developers.binance.com `binance_link/exchange-link/account/`; the
/// response example of openxapi's spec, GetBrokerSubAccountV1Resp).
pub const BROKER_SUB_ACCOUNT_LIST: Endpoint = Endpoint {
    method: Method::GET,
    path: "/sapi/v1/broker/subAccount",
    params: &["page", "size"],
    charges: &[limits::BROKER_SUB_ACCOUNT_LIST],
    source: "developers.binance.com/docs/binance_link/exchange-link/account Query-Sub-Account",
};

/// GET, broker: `subAccountId`; optional `subAccountApiKey`, `page`
/// (default 1), `size` (default and max 500). Replies an array of
/// `{"subaccountId", "apikey", "canTrade", "marginTrade", "futuresTrade"}`
/// ("Query Sub Account Api Key"; GetBrokerSubAccountApiV1Resp).
pub const BROKER_QUERY_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/sapi/v1/broker/subAccountApi",
    params: &["subAccountId", "subAccountApiKey", "page", "size"],
    charges: &[limits::BROKER_KEY_QUERY],
    source: "developers.binance.com/docs/binance_link/exchange-link/account Query-Sub-Account-Api-Key",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 14] = [
    &SERVER_TIME,
    &API_RESTRICTIONS,
    &DELETE_SUB_KEY,
    &QUERY_SUB_KEYS,
    &CREATE_SUB_KEY,
    &GET_SUB_KEY_IP_RESTRICTION,
    &SUB_ACCOUNT_LIST,
    &SUB_KEY_PERMISSION,
    &SUB_KEY_IP_RESTRICTION,
    &DELETE_BROKER_KEY,
    &BROKER_KEY_PERMISSION,
    &BROKER_KEY_IP_RESTRICTION,
    &BROKER_SUB_ACCOUNT_LIST,
    &BROKER_QUERY_SUB_KEYS,
];

/// The largest page of both broker listings.
pub const BROKER_PAGE_SIZE: u32 = 500;

/// The IP a disabled key is bound to: TEST-NET-1 (RFC 5737), reserved for
/// documentation and routed nowhere, so no one can call from it.
pub const UNROUTABLE_IP: &str = "192.0.2.1";
/// `status=2`: "Restrict access to trusted IPs only".
pub const IP_RESTRICTED: &str = "2";

/// The largest page the master's key listing serves.
pub const LIST_PAGE_SIZE: u32 = 100;
/// The largest page of the master's sub-account list.
pub const SUB_ACCOUNT_PAGE_SIZE: u32 = 200;

/// `apiRestrictions` flags that let a key move funds out of reach: withdraw,
/// or transfer between accounts.
pub const FUND_MOVING_FLAGS: [&str; 3] = [
    "enableWithdrawals",
    "enableInternalTransfer",
    "permitsUniversalTransfer",
];

/// The master's key listing reports these flags per key; only universal
/// transfer among them moves funds (withdrawal is not listed).
pub const LISTED_FLAGS: [&str; 5] = [
    "canTrade",
    "canMarginLoanRepay",
    "canFuturesTrade",
    "canUniversalTransfer",
    "canVanillaOptions",
];
pub const LISTED_FUND_MOVING_FLAG: &str = "canUniversalTransfer";

/// `email` + `subAccountApiKey`: delete, and the start of every other
/// master call.
pub fn sub_key_params(email: &str, api_key: &str) -> Params {
    Params::new()
        .with("email", email)
        .with("subAccountApiKey", api_key)
}

/// The listing, narrowed to the one key, on one page as large as allowed.
pub fn find_sub_key_params(email: &str, api_key: &str) -> Params {
    sub_key_params(email, api_key)
        .with("page", "1")
        .with("size", LIST_PAGE_SIZE.to_string())
}

/// One page of the master's sub accounts, as large as allowed.
pub fn sub_account_list_params(page: u64) -> Params {
    Params::new()
        .with("page", page.to_string())
        .with("limit", SUB_ACCOUNT_PAGE_SIZE.to_string())
}

/// One page of the broker's sub accounts, as large as allowed.
pub fn broker_sub_account_list_params(page: u64) -> Params {
    Params::new()
        .with("page", page.to_string())
        .with("size", BROKER_PAGE_SIZE.to_string())
}

/// One page of a broker sub account's keys, as large as allowed.
pub fn broker_sub_keys_params(sub_account_id: &str, page: u64) -> Params {
    Params::new()
        .with("subAccountId", sub_account_id)
        .with("page", page.to_string())
        .with("size", BROKER_PAGE_SIZE.to_string())
}

/// One page of a sub account's keys, as large as allowed.
pub fn list_sub_keys_params(email: &str, page: u64) -> Params {
    Params::new()
        .with("email", email)
        .with("page", page.to_string())
        .with("size", LIST_PAGE_SIZE.to_string())
}

pub fn sub_key_ip_lock_params(email: &str, api_key: &str) -> Params {
    sub_key_params(email, api_key)
        .with("status", IP_RESTRICTED)
        .with("ipAddress", UNROUTABLE_IP)
}

/// Every permission the master may change, switched off.
pub fn sub_key_strip_params(email: &str, api_key: &str) -> Params {
    LISTED_FLAGS
        .iter()
        .fold(sub_key_params(email, api_key), |p, flag| {
            p.with(flag, "false")
        })
}

pub fn broker_key_params(sub_account_id: &str, api_key: &str) -> Params {
    Params::new()
        .with("subAccountId", sub_account_id)
        .with("subAccountApiKey", api_key)
}

pub fn broker_key_ip_lock_params(sub_account_id: &str, api_key: &str) -> Params {
    broker_key_params(sub_account_id, api_key)
        .with("status", IP_RESTRICTED)
        .with("ipAddress", UNROUTABLE_IP)
}

pub fn broker_key_strip_params(sub_account_id: &str, api_key: &str) -> Params {
    broker_key_params(sub_account_id, api_key)
        .with("canTrade", "false")
        .with("marginTrade", "false")
        .with("futuresTrade", "false")
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
    fn every_endpoint_is_counted_on_one_budget_of_its_own() {
        // limits::limit_of reads the one charge (see limits.rs's notes).
        for e in ENDPOINTS {
            assert_eq!(e.charges.len(), 1, "{} {}", e.method, e.path);
        }
    }

    #[test]
    fn builders_send_the_documented_parameters_in_order() {
        let names = |p: &Params| p.names().collect::<Vec<_>>();
        let cases: [(Params, &Endpoint); 9] = [
            (sub_key_params("e", "k"), &DELETE_SUB_KEY),
            (find_sub_key_params("e", "k"), &QUERY_SUB_KEYS),
            (sub_account_list_params(1), &SUB_ACCOUNT_LIST),
            (sub_key_strip_params("e", "k"), &SUB_KEY_PERMISSION),
            (sub_key_ip_lock_params("e", "k"), &SUB_KEY_IP_RESTRICTION),
            (broker_key_params("s", "k"), &DELETE_BROKER_KEY),
            (broker_key_strip_params("s", "k"), &BROKER_KEY_PERMISSION),
            (
                broker_key_ip_lock_params("s", "k"),
                &BROKER_KEY_IP_RESTRICTION,
            ),
            (broker_sub_account_list_params(1), &BROKER_SUB_ACCOUNT_LIST),
        ];
        for (params, endpoint) in &cases {
            assert_eq!(names(params), endpoint.params, "{}", endpoint.path);
        }
    }
}
