//! The KuCoin endpoints keyrevoke calls, one place each: method, path,
//! parameters, and what each spends: one unit of the front (per-IP) limit
//! and its weight in its resource pool (`limits.rs`).
//!
//! Sources: the docs page named beside each endpoint, and the official SDK's
//! spec (github.com/Kucoin/kucoin-universal-sdk, `spec/rest/api/openapi-account-subaccount.json`,
//! `openapi-account-account.json`; the generated `api_sub_account.py`,
//! `api_account.py`, `api_market.py` of PyPI kucoin-universal-sdk 1.3.2
//! print the same pool and weight).

use crate::limits::{management, public};
use keyrevoke_core::endpoint::{Endpoint, Method};

/// Delete sub-account API: the master deletes a sub key. Query (DELETE
/// carries its params in the URL): `apiKey`, `subName`, `passphrase` (the sub
/// key's own passphrase), all required. Needs "General".
/// https://www.kucoin.com/docs-new/api-3470137 (legacy: /docs/rest/account/sub-account-api/delete-sub-account-api).
/// The legacy docs once marked it "temporarily not public"
/// (github.com/Kucoin/kucoin-api-docs pull 407); docs-new lists it again.
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/api/v1/sub/api-key",
    params: &["apiKey", "subName", "passphrase"],
    charges: &management(30),
    source: "https://www.kucoin.com/docs-new/api-3470137",
};

/// Modify sub-account API: JSON body `subName`, `apiKey`, `passphrase`
/// (required), `permission` ("Only General, Spot, Futures, Margin,
/// InnerTransfer (Flex Transfer) permissions can be set", comma-separated),
/// `ipWhitelist` (up to 20, comma-separated), `expire`. Needs "General".
/// https://www.kucoin.com/docs-new/api-3470139
pub const UPDATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v1/sub/api-key/update",
    params: &[
        "subName",
        "apiKey",
        "passphrase",
        "permission",
        "ipWhitelist",
    ],
    charges: &management(30),
    source: "https://www.kucoin.com/docs-new/api-3470139",
};

/// Get sub-account API List: query `subName` (required), `apiKey`
/// (optional filter); answers an array of {subName, apiKey, permission,
/// ipWhitelist, uid, isMaster, ...}. Needs "General".
/// https://www.kucoin.com/docs-new/api-3470136
pub const LIST_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v1/sub/api-key",
    // The docs list `subName` first; the official SDK sends `apiKey`
    // first, and so do we (the signature covers the query as sent).
    params: &["apiKey", "subName"],
    charges: &management(20),
    source: "https://www.kucoin.com/docs-new/api-3470136",
};

/// Create Sub-Account API: JSON body `subName`, `passphrase` (7 to 32
/// characters, no spaces), `remark` (1 to 24 characters), all required;
/// `permission` (only General, Spot, Futures, Margin, InnerTransfer; default
/// General), `ipWhitelist` (up to 20, comma-separated), `expire` (default
/// never). Answers `subName`, `remark`, `apiKey`, `apiSecret` (shown once),
/// `passphrase`, `permission`, `ipWhitelist`, `createdAt`. Needs "General";
/// Management weight 20.
/// https://www.kucoin.com/docs/rest/account/sub-account-api/create-sub-account-api
pub const CREATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v1/sub/api-key",
    params: &[
        "subName",
        "passphrase",
        "remark",
        "permission",
        "ipWhitelist",
    ],
    charges: &management(20),
    source: "https://www.kucoin.com/docs/rest/account/sub-account-api/create-sub-account-api",
};

/// Get sub-account list - Summary Info (V2): query `currentPage` (default
/// 1), `pageSize` (default 10, max 100); `data` holds `currentPage`,
/// `pageSize`, `totalNum`, `totalPage` and `items` (each with `subName`,
/// `uid`, `userId`, `remarks`, …). Needs "General". kucoin-universal-sdk
/// `spec/rest/api/openapi-account-subaccount.json` (GetSpotSubAccountsSummaryV2);
/// legacy docs "Get Paginated List of Sub-Accounts".
pub const LIST_SUB_ACCOUNTS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/sub/user",
    params: &["currentPage", "pageSize"],
    charges: &management(20),
    source: "Kucoin/kucoin-universal-sdk spec/rest/api/openapi-account-subaccount.json, GetSpotSubAccountsSummaryV2",
};

/// Sub accounts asked for per page: the documented maximum.
pub const SUB_ACCOUNT_PAGE_SIZE: u32 = 100;

/// Get Apikey Info: "Use the api key awaiting checking to call the
/// endpoint. Both master and sub user's api key are applicable." Answers
/// remark, apiKey, apiVersion, permission (comma-separated: General, Spot,
/// Margin, Futures, InnerTransfer, Transfer, Earn), ipWhitelist, createdAt,
/// uid, isMaster, subName. https://www.kucoin.com/docs-new/api-3470130
pub const QUERY_KEY: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v1/user/api-key",
    params: &[],
    charges: &management(20),
    source: "https://www.kucoin.com/docs-new/api-3470130",
};

/// Get Server Time: public; `data` is the server time in ms.
/// https://www.kucoin.com/docs-new/api-3470156
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v1/timestamp",
    params: &[],
    charges: &public(3),
    source: "https://www.kucoin.com/docs-new/api-3470156",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 7] = [
    &DELETE_SUB_KEY,
    &UPDATE_SUB_KEY,
    &LIST_SUB_KEYS,
    &CREATE_SUB_KEY,
    &LIST_SUB_ACCOUNTS,
    &QUERY_KEY,
    &SERVER_TIME,
];

/// The code of a successful reply (docs-new "Authentication"; every
/// response example).
pub const SUCCESS_CODE: &str = "200000";

/// The IP a disabled key is bound to: TEST-NET-1 (RFC 5737), reserved for
/// documentation and routed nowhere, so no one can call from it.
pub const UNROUTABLE_IP: &str = "192.0.2.1";

/// The permission a disabled key keeps: "General" is read-only ("Limited to
/// read-only operations such as querying account information"; docs.kucoin.com
/// introduction, "api-permission").
pub const READ_ONLY_PERMISSION: &str = "General";

/// Permissions that can move funds out of the account or between accounts:
/// "Transfer" (the Withdrawal permission as `user/api-key` reports it:
/// "allows you to withdraw assets ... transfer money without email
/// verification"), "InnerTransfer" (FlexTransfers), and "Withdrawal" as the
/// permission is named in the docs' list.
pub const FUND_MOVING_PERMISSIONS: [&str; 3] = ["Transfer", "Withdrawal", "InnerTransfer"];

/// Query of the master's delete call, in the docs' order.
pub fn delete_sub_key_params<'a>(
    sub_api_key: &'a str,
    sub_name: &'a str,
    sub_passphrase: &'a str,
) -> [(&'static str, &'a str); 3] {
    [
        ("apiKey", sub_api_key),
        ("subName", sub_name),
        ("passphrase", sub_passphrase),
    ]
}

/// Body of the master's disable call: read-only and bound to an unroutable IP.
pub fn disable_sub_key_body(sub_api_key: &str, sub_name: &str, sub_passphrase: &str) -> String {
    serde_json::json!({
        "subName": sub_name,
        "apiKey": sub_api_key,
        "passphrase": sub_passphrase,
        "permission": READ_ONLY_PERMISSION,
        "ipWhitelist": UNROUTABLE_IP,
    })
    .to_string()
}

/// Query of the master's listing of one sub key, in the order the official
/// SDK sends it (`SubAccountAPIImpl.get_sub_account_api_list`,
/// test_data/official_client_vectors.json); the signature covers the query
/// as sent, so the order is ours to choose, and this one is KuCoin's.
pub fn list_sub_key_params<'a>(
    sub_name: &'a str,
    sub_api_key: &'a str,
) -> [(&'static str, &'a str); 2] {
    [("apiKey", sub_api_key), ("subName", sub_name)]
}

/// Query of one page of the master's sub accounts.
pub fn list_sub_accounts_params(page: &str) -> [(&'static str, String); 2] {
    [
        ("currentPage", page.to_string()),
        ("pageSize", SUB_ACCOUNT_PAGE_SIZE.to_string()),
    ]
}

/// Split KuCoin's comma-separated permission string ("General,Spot").
pub use keyrevoke_core::connector::permission_list as permission_names;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits;
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
        let delete = delete_sub_key_params("k", "s", "p").map(|(n, _)| n);
        assert_eq!(delete.as_slice(), DELETE_SUB_KEY.params);
        let listing = list_sub_key_params("s", "k").map(|(n, _)| n);
        assert_eq!(listing.as_slice(), LIST_SUB_KEYS.params);
        let page = list_sub_accounts_params("1").map(|(n, _)| n);
        assert_eq!(page.as_slice(), LIST_SUB_ACCOUNTS.params);
        let body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&disable_sub_key_body("k", "s", "p")).unwrap();
        let mut sent: Vec<&str> = body.keys().map(String::as_str).collect();
        let mut documented = UPDATE_SUB_KEY.params.to_vec();
        sent.sort_unstable();
        documented.sort_unstable();
        assert_eq!(sent, documented);
    }

    #[test]
    fn the_disable_body_has_the_fields_the_official_sdk_sends() {
        // official_client_vectors.json holds the SDK's body for the same
        // call; it adds its model default `expire: "-1"` (never expire).
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../test_data/official_client_vectors.json"))
                .unwrap();
        let sdk_body = vectors["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["request"]["method"] == "POST")
            .and_then(|v| v["request"]["body"].as_str())
            .unwrap();
        let mut sdk: serde_json::Value = serde_json::from_str(sdk_body).unwrap();
        sdk.as_object_mut().unwrap().remove("expire");
        let ours: serde_json::Value = serde_json::from_str(&disable_sub_key_body(
            "5e1b5c1d2f3a4b5c6d7e8f90",
            "kcsub001",
            "subPass123",
        ))
        .unwrap();
        assert_eq!(ours, sdk);
    }

    #[test]
    fn permissions_are_split_and_sorted() {
        assert_eq!(
            permission_names("General, Spot,Transfer"),
            vec!["General", "Spot", "Transfer"]
        );
        assert!(permission_names("").is_empty());
    }
}
