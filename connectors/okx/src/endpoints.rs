//! The OKX v5 endpoints keyrevoke calls, one place each.
//!
//! Sources: the v5 docs, https://www.okx.com/docs-v5/en/ (anchors below),
//! and OKX's SDK okxapi/python-okx (`okx/consts.py`, `okx/NDBroker.py`) for
//! the non-disclosed (ND) broker endpoints, documented at
//! https://www.okx.com/docs-v5/broker_en/.

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};
use serde::Serialize;

/// POST, master only; body `subAcct`, `apiKey`. Needs a master key bound to
/// IP addresses (else 50035) with Trade permission; 1 request per second
/// per User ID. #sub-account-rest-api-delete-the-api-key-of-sub-accounts
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v5/users/subaccount/delete-apikey",
    params: &["subAcct", "apiKey"],
    charges: &[charge(limits::UID_DELETE_KEY, 1)],
    source: "docs-v5 #sub-account-rest-api-delete-the-api-key-of-sub-accounts",
};
/// POST, master only; body `subAcct`, `apiKey` and optionally `label`,
/// `perm` (`read_only`, `trade`; comma-separated; replaces the current set)
/// and `ip` (comma-separated, up to 20; replaces the current list; `""`
/// unbinds). Same IP-binding, permission and rate-limit rules as delete.
/// #sub-account-rest-api-reset-the-api-key-of-a-sub-account
pub const MODIFY_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v5/users/subaccount/modify-apikey",
    params: &["subAcct", "apiKey", "perm", "ip"],
    charges: &[charge(limits::UID_MODIFY_KEY, 1)],
    source: "docs-v5 #sub-account-rest-api-reset-the-api-key-of-a-sub-account",
};
/// GET, master only; query `subAcct` (required), `apiKey` (optional); the
/// keys' `label`, `apiKey`, `perm`, `ip`, `ts`. 20 requests per 2 s per
/// User ID. #sub-account-rest-api-query-the-api-key-of-a-sub-account
pub const QUERY_SUB_KEY: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v5/users/subaccount/apikey",
    params: &["subAcct", "apiKey"],
    charges: &[charge(limits::UID_QUERY_KEY, 1)],
    source: "docs-v5 #sub-account-rest-api-query-the-api-key-of-a-sub-account",
};
/// POST, master only (bound to IP addresses, holding Trade, as the other
/// writes); body `subAcct`, `label`, `passphrase` (required; 8 to 32
/// characters with a lowercase and an uppercase letter, a digit and a
/// special character), `perm` (`read_only`, `trade`, comma-separated) and
/// `ip` (up to 20, comma-separated). The reply's `data[0]` holds `apiKey`,
/// `secretKey` (shown once), `passphrase`, `perm`, `ip`, `label`, `ts`.
/// 1 request per second per User ID.
/// #sub-account-rest-api-create-an-api-key-for-a-sub-account
pub const CREATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v5/users/subaccount/apikey",
    params: &["subAcct", "label", "passphrase", "perm", "ip"],
    charges: &[charge(limits::UID_CREATE_KEY, 1)],
    source: "docs-v5 #sub-account-rest-api-create-an-api-key-for-a-sub-account",
};

/// The ND broker's equivalents, called with the broker's master key for its
/// broker sub-accounts: delete (`subAcct`, `apiKey`), reset (`subAcct`,
/// `apiKey`, `label`, `perm`, `ip`) and query (`subAcct`, `apiKey`).
/// python-okx `okx/consts.py` ND_DELETE_APIKEY, ND_MODIFY_APIKEY,
/// ND_SELECT_APIKEY and `okx/NDBroker.py`.
pub const BROKER_DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v5/broker/nd/subaccount/delete-apikey",
    params: &["subAcct", "apiKey"],
    charges: &[charge(limits::UID_DELETE_KEY, 1)],
    source: "python-okx okx/consts.py ND_DELETE_APIKEY",
};
pub const BROKER_MODIFY_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v5/broker/nd/subaccount/modify-apikey",
    params: &["subAcct", "apiKey", "perm", "ip"],
    charges: &[charge(limits::UID_MODIFY_KEY, 1)],
    source: "python-okx okx/consts.py ND_MODIFY_APIKEY",
};
pub const BROKER_QUERY_SUB_KEY: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v5/broker/nd/subaccount/apikey",
    params: &["subAcct", "apiKey"],
    charges: &[charge(limits::UID_QUERY_KEY, 1)],
    source: "python-okx okx/consts.py ND_SELECT_APIKEY",
};

/// GET, any key: the calling key's `uid`, `mainUid`, `label`, `ip` and
/// `perm` (`read_only`, `trade`, `withdraw`, comma-separated). 5 requests
/// per 2 s per User ID. #trading-account-rest-api-get-account-configuration
pub const ACCOUNT_CONFIG: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v5/account/config",
    params: &[],
    charges: &[charge(limits::UID_ACCOUNT_CONFIG, 1)],
    source: "docs-v5 #trading-account-rest-api-get-account-configuration",
};

/// GET, public: `data[0].ts`, the server time in Unix ms (a string). 10
/// requests per 2 s per IP. #public-data-rest-api-get-system-time
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v5/public/time",
    params: &[],
    charges: &[charge(limits::IP_PUBLIC, 1)],
    source: "docs-v5 #public-data-rest-api-get-system-time",
};

pub static ENDPOINTS: [&Endpoint; 9] = [
    &CREATE_SUB_KEY,
    &DELETE_SUB_KEY,
    &MODIFY_SUB_KEY,
    &QUERY_SUB_KEY,
    &BROKER_DELETE_SUB_KEY,
    &BROKER_MODIFY_SUB_KEY,
    &BROKER_QUERY_SUB_KEY,
    &ACCOUNT_CONFIG,
    &SERVER_TIME,
];

/// The IP a disabled key is bound to: TEST-NET-1 (RFC 5737), reserved for
/// documentation and routed nowhere, so no one can call from it.
pub const UNROUTABLE_IP: &str = "192.0.2.1";

/// The permission a disabled key keeps: read only.
pub const READ_ONLY_PERM: &str = "read_only";

/// Permissions that can move funds out of the account (`perm` values of
/// account/config).
pub const FUND_MOVING_PERMISSIONS: [&str; 1] = ["withdraw"];

/// Which family of endpoints a managing credential uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    /// A master account managing its own sub-accounts.
    Master,
    /// A non-disclosed broker managing its broker sub-accounts.
    Broker,
}

impl Manager {
    pub fn delete_endpoint(self) -> &'static Endpoint {
        match self {
            Manager::Master => &DELETE_SUB_KEY,
            Manager::Broker => &BROKER_DELETE_SUB_KEY,
        }
    }

    pub fn modify_endpoint(self) -> &'static Endpoint {
        match self {
            Manager::Master => &MODIFY_SUB_KEY,
            Manager::Broker => &BROKER_MODIFY_SUB_KEY,
        }
    }

    pub fn query_endpoint(self) -> &'static Endpoint {
        match self {
            Manager::Master => &QUERY_SUB_KEY,
            Manager::Broker => &BROKER_QUERY_SUB_KEY,
        }
    }
}

/// Fields in the docs' order (`subAcct` first), so that a body reads the
/// same as the docs' request examples.
#[derive(Serialize)]
struct SubKey<'a> {
    #[serde(rename = "subAcct")]
    sub_acct: &'a str,
    #[serde(rename = "apiKey")]
    api_key: &'a str,
}

#[derive(Serialize)]
struct Disable<'a> {
    #[serde(rename = "subAcct")]
    sub_acct: &'a str,
    #[serde(rename = "apiKey")]
    api_key: &'a str,
    perm: &'a str,
    ip: &'a str,
}

/// `{"subAcct":…,"apiKey":…}` for delete-apikey.
pub fn delete_body(sub_acct: &str, api_key: &str) -> String {
    serde_json::to_string(&SubKey { sub_acct, api_key }).expect("strings serialize")
}

/// modify-apikey that leaves the key read-only and bound to an IP no one
/// owns: it can neither trade nor be used from anywhere.
pub fn disable_body(sub_acct: &str, api_key: &str) -> String {
    serde_json::to_string(&Disable {
        sub_acct,
        api_key,
        perm: READ_ONLY_PERM,
        ip: UNROUTABLE_IP,
    })
    .expect("strings serialize")
}

/// `subAcct=…&apiKey=…` for the sub-key query, form-encoded (sub-account
/// names are letters and digits; the encoding only guards odd inventory
/// values). The query is signed as part of the request path.
pub fn sub_key_query(sub_acct: &str, api_key: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("subAcct={}&apiKey={}", enc(sub_acct), enc(api_key))
}

/// The names in a `perm` string (`read_only,withdraw,trade`), sorted.
pub use keyrevoke_core::connector::permission_list as permission_names;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_charges_documented_tiers() {
        let problems = keyrevoke_core::endpoint::endpoint_problems(&limits::TIERS, &ENDPOINTS);
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn bodies_name_the_sub_account_then_the_key() {
        assert_eq!(
            delete_body("botsub001", "k-1"),
            r#"{"subAcct":"botsub001","apiKey":"k-1"}"#
        );
        assert_eq!(
            disable_body("botsub001", "k-1"),
            r#"{"subAcct":"botsub001","apiKey":"k-1","perm":"read_only","ip":"192.0.2.1"}"#
        );
    }

    #[test]
    fn the_query_is_encoded_and_permissions_are_split() {
        assert_eq!(sub_key_query("sub 1", "a&b"), "subAcct=sub+1&apiKey=a%26b");
        assert_eq!(
            permission_names("read_only,withdraw,trade"),
            vec!["read_only", "trade", "withdraw"]
        );
        assert!(permission_names("").is_empty());
    }
}
