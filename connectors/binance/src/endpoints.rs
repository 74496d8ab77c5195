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

use crate::limits::{self, Limit};
use crate::sign::Params;
use reqwest::Method;

/// One endpoint: how it is called and the limit it counts against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub limit: Limit,
}

pub const SUB_KEYS_PATH: &str = "/sapi/v1/sub-account/subAccountApi";
pub const API_RESTRICTIONS_PATH: &str = "/sapi/v1/account/apiRestrictions";

/// GET, public: `{"serverTime": ms}`.
pub static SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/time",
    limit: limits::SERVER_TIME,
};

/// GET, signed with the key itself, any key: `ipRestrict`, `enableReading`,
/// `enableWithdrawals`, `enableInternalTransfer`, `permitsUniversalTransfer`,
/// `enableSpotAndMarginTrading`, … Weight(IP) 1.
pub static API_RESTRICTIONS: Endpoint = Endpoint {
    method: Method::GET,
    path: API_RESTRICTIONS_PATH,
    limit: limits::API_RESTRICTIONS,
};

/// DELETE, master: `email`, `subAccountApiKey`. Replies `{}`. Asset
/// sub-accounts are not supported; the caller must pass the KYC IP check.
pub static DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::DELETE,
    path: SUB_KEYS_PATH,
    limit: limits::SUB_KEY_DELETE,
};

/// GET, master: `email`; optional `subAccountApiKey` (exact match), `page`
/// (default 1), `size` (default 30, max 100). Replies `{"total", "rows":
/// [{"email", "apiName", "apikey", "canTrade", "canMarginLoanRepay",
/// "canFuturesTrade", "canUniversalTransfer", "canVanillaOptions",
/// "timestamp"}]}`.
pub static QUERY_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: SUB_KEYS_PATH,
    limit: limits::SUB_KEY_QUERY,
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
pub static CREATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: SUB_KEYS_PATH,
    limit: limits::SUB_KEY_CREATE,
};

/// GET, master: `email`, `subAccountApiKey`. Replies `{"ipRestrict"
/// ("true"/"false", a string in the docs' example), "ipList", "updateTime",
/// "apiKey"}`: where a sub key's IPs are read (the key listing has none).
/// Weight(UID) 3000. binance-connector-python
/// `GetIpRestrictionForASubAccountApiKeyResponse`.
pub static GET_SUB_KEY_IP_RESTRICTION: Endpoint = Endpoint {
    method: Method::GET,
    path: "/sapi/v1/sub-account/subAccountApi/ipRestriction",
    limit: limits::SUB_KEY_IP_READ,
};

/// GET, master: optional `email`, `isFreeze`, `page` (default 1), `limit`
/// (default 1, max 200). Replies `{"subAccounts": [{"subUserId", "email",
/// "remark", "isFreeze", "createTime", "isManagedSubAccount",
/// "isAssetManagementSubAccount"}]}`, no total. Weight(IP) 1
/// (https://developers.binance.com/docs/sub_account/account-management/Query-Sub-account-List).
pub static SUB_ACCOUNT_LIST: Endpoint = Endpoint {
    method: Method::GET,
    path: "/sapi/v1/sub-account/list",
    limit: limits::SUB_ACCOUNT_LIST,
};

/// POST, master: `email`, `subAccountApiKey`, optional `canTrade`,
/// `canMarginLoanRepay`, `canFuturesTrade`, `canUniversalTransfer`,
/// `canVanillaOptions`.
pub static SUB_KEY_PERMISSION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v1/sub-account/subAccountApiPermission",
    limit: limits::SUB_KEY_PERMISSION,
};

/// POST, master with "Enable Spot & Margin Trading": `email`,
/// `subAccountApiKey`, `status` (1 unrestricted, 2 trusted IPs only),
/// `ipAddress` (comma-separated).
pub static SUB_KEY_IP_RESTRICTION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v2/sub-account/subAccountApi/ipRestriction",
    limit: limits::SUB_KEY_IP_RESTRICTION,
};

/// DELETE, broker with "trade" enabled: `subAccountId`, `subAccountApiKey`;
/// "1 api key for each sub account per second". Replies `{}`.
pub static DELETE_BROKER_KEY: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/sapi/v1/broker/subAccountApi",
    limit: limits::BROKER_KEY_DELETE,
};

/// POST, broker with "trade" enabled: `subAccountId`, `subAccountApiKey`,
/// `canTrade`, `marginTrade`, `futuresTrade` (all mandatory).
pub static BROKER_KEY_PERMISSION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v1/broker/subAccountApi/permission",
    limit: limits::BROKER_KEY_PERMISSION,
};

/// POST, broker: `subAccountId`, `subAccountApiKey`, `status`, `ipAddress`.
pub static BROKER_KEY_IP_RESTRICTION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sapi/v2/broker/subAccountApi/ipRestriction",
    limit: limits::BROKER_KEY_IP_RESTRICTION,
};

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
