//! The Bitget endpoints keyrevoke calls, one place each.
//!
//! Sources: bitget.com/api-doc, each page named in the endpoint's
//! `source` (read from stored copies of the official pages and their
//! mirrors); the official SDK BitgetLimited/v3-bitget-api-sdk for the
//! account information's path (`bitget-python-sdk-api/bitget/v2/spot/account_api.py`);
//! the unified-account sub-key paths and the delete's `{"apiKey"}` body
//! also as the community SDK tiagosiebler/bitget-api sends them
//! (`src/rest-client-v3.ts`; the delete page's parameter table spells it
//! `apikey`, its example `apiKey`); the project's notes
//! `exchanges/bitget.md`.
//!
//! Only the main account (or an ND broker's) manages keys, and only its
//! sub accounts' keys: no call deletes, freezes or narrows a main-account
//! key, or lets a key act on itself ("not applicable for the main account
//! or sub-account to delete their own API Key"). Such keys are probed and
//! escalated.
//!
//! Every response is `{"code", "msg", "requestTime", "data"}`, `code`
//! `"00000"` on success.
//!
//! Not called: `POST /api/v2/user/modify-virtual-subaccount` (freeze the
//! whole sub account) and `POST /api/v3/user/freeze-sub`: they stop every
//! key and the trading of the sub account, which is the operator's
//! decision, not a key's revocation; `POST /api/v3/user/update-sub-api`
//! (unified sub keys): its permission list cannot be emptied (`type` and
//! `permissions` are required together), and the v2 modify narrows the
//! same keys further.

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};
use keyrevoke_core::sign::percent_encode;
use serde_json::{Value, json};

/// `POST`, main account: `{"apiKey"}`. Replies `data: {}`. "This API only
/// supports deleting API Keys of sub-accounts under a unified account";
/// "the sub-account API Key will be immediately invalid". Needs the main
/// key's "Unified account management" read-write permission.
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v3/user/delete-sub-api",
    params: &["apiKey"],
    charges: &[charge(limits::UID_SUB_KEY_DELETE, 1)],
    source: "bitget.com/api-doc/uta/account/sub-account/SubAccount-API-Delete (10/sec/UID)",
};

/// `POST`, ND broker's main account: `{"subUid", "apiKey"}`. Replies code
/// and msg only.
pub const BROKER_DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v3/broker/delete-sub-apikey",
    params: &["subUid", "apiKey"],
    charges: &[charge(limits::UID_BROKER_SUB_KEY_DELETE, 1)],
    source: "bitget.com/api-doc/uta/broker/Delete-Subaccount-Apikey (20/sec/UID)",
};

/// `POST`, main account (its key bound to an IP): `subAccountUid`,
/// `subAccountApiKey`, `passphrase` (the sub key's), `label` (required),
/// `ipList` ("Up to 30, if not then ip whitelist is set to empty"),
/// `permList` ("If this parameter is not passed, it will be ignored ... If
/// an empty value is passed, the existing permissions of this API Key will
/// be removed"). Replies the key, its `secretKey` included: read nothing
/// of it but the code.
pub const MODIFY_VIRTUAL_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/api/v2/user/modify-virtual-subaccount-apikey",
    params: &[
        "subAccountUid",
        "subAccountApiKey",
        "passphrase",
        "label",
        "ipList",
        "permList",
    ],
    charges: &[charge(limits::UID_VIRTUAL_SUB_KEY_MODIFY, 1)],
    source: "bitget.com/api-doc/common/vsubaccount/Modify-Virtual-Subaccount-ApiKey (5/1s UID)",
};

/// `GET ?subAccountUid=`, main account: `data: [{subAccountUid, label,
/// subAccountApiKey, permList, ipList}]`, every key of the sub account
/// ("virtual sub-account or general sub-account").
pub const LIST_VIRTUAL_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/user/virtual-subaccount-apikey-list",
    params: &["subAccountUid"],
    charges: &[charge(limits::UID_VIRTUAL_SUB_KEY_LIST, 1)],
    source: "bitget.com/api-doc/common/vsubaccount/Get-Virtual-Subaccount-ApiKey-List (5 req/sec/UID)",
};

/// `GET ?idLessThan=&limit=`, main account: `data: {endId, subAccountList:
/// [{subAccountUid, subAccountName, status, permList, label, cTime,
/// uTime}]}`, newest first; the next page is `idLessThan` = `endId`.
pub const LIST_VIRTUAL_SUB_ACCOUNTS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/user/virtual-subaccount-list",
    params: &["idLessThan", "limit"],
    charges: &[charge(limits::UID_VIRTUAL_SUB_ACCOUNT_LIST, 1)],
    source: "bitget.com/api-doc/common/vsubaccount/Get-Virtual-Subaccount-List (10/1s UID; 1/1s in the Chinese page)",
};

/// `GET`, any key with spot read: `data: {userId, inviterId, ips,
/// authorities, parentId, traderType, channelCode, channel, regisTime}`.
/// A dead key: 40006 (invalid ACCESS_KEY) or 40037 (apikey does not exist).
pub const ACCOUNT_INFO: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/spot/account/info",
    params: &[],
    charges: &[charge(limits::UID_ACCOUNT_INFO, 1)],
    source: "bitget.com/api-doc/spot/account/Get-Account-Info (1/1s UID)",
};

/// `GET`, public: `data: {serverTime: "<Unix ms>"}`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/public/time",
    params: &[],
    charges: &[charge(limits::IP_PUBLIC_TIME, 1)],
    source: "bitget.com/api-doc/common/public/Get-Server-Time (20/sec/IP)",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 7] = [
    &DELETE_SUB_KEY,
    &BROKER_DELETE_SUB_KEY,
    &MODIFY_VIRTUAL_SUB_KEY,
    &LIST_VIRTUAL_SUB_KEYS,
    &LIST_VIRTUAL_SUB_ACCOUNTS,
    &ACCOUNT_INFO,
    &SERVER_TIME,
];

/// The IP a disabled key is bound to: TEST-NET-1 (RFC 5737), reserved for
/// documentation and routed nowhere, so no one can call from it.
pub const UNROUTABLE_IP: &str = "192.0.2.1";

/// Sub accounts asked for per page: the most both versions of the list's
/// page allow (500 in English, 100 in Chinese).
pub const SUB_ACCOUNTS_PER_PAGE: usize = 100;

/// The `permList` names that move funds (the modify page's
/// `wallet_transfer`, `wallet_withdraw`; older pages' `transfer`).
pub const FUND_MOVING_PERMISSIONS: [&str; 3] = ["transfer", "wallet_transfer", "wallet_withdraw"];

/// The account-information `authorities` that move funds: `wtow` (wallet
/// transfer, read and write), `wwow` (wallet withdrawal).
pub const FUND_MOVING_AUTHORITIES: [&str; 2] = ["wtow", "wwow"];

/// `DELETE_SUB_KEY`'s body.
pub fn delete_body(api_key: &str) -> String {
    json!({ "apiKey": api_key }).to_string()
}

/// `BROKER_DELETE_SUB_KEY`'s body.
pub fn broker_delete_body(sub_uid: &str, api_key: &str) -> String {
    json!({ "subUid": sub_uid, "apiKey": api_key }).to_string()
}

/// `LIST_VIRTUAL_SUB_KEYS`'s query.
pub fn sub_keys_query(sub_uid: &str) -> String {
    format!("subAccountUid={}", percent_encode(sub_uid))
}

/// `LIST_VIRTUAL_SUB_ACCOUNTS`'s query, from `cursor` (an `endId`) when
/// continued; parameters in ascending order, as the signature page asks.
pub fn sub_accounts_query(cursor: Option<&str>) -> String {
    match cursor {
        Some(id) => format!(
            "idLessThan={}&limit={SUB_ACCOUNTS_PER_PAGE}",
            percent_encode(id)
        ),
        None => format!("limit={SUB_ACCOUNTS_PER_PAGE}"),
    }
}

/// The key's entry in a sub account's key listing.
pub fn listed_key<'a>(listing: &'a Value, api_key: &str) -> Option<&'a Value> {
    listing
        .as_array()?
        .iter()
        .find(|k| k["subAccountApiKey"].as_str() == Some(api_key))
}

/// A listed key's permissions (`permList`), sorted.
pub fn permission_names(key: &Value) -> Vec<String> {
    let mut names: Vec<String> = key["permList"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The body of the disabling modify, for the key as its listing shows it:
/// every field sent, since Bitget empties an omitted IP list (which would
/// open the key to every address): the label kept (required), no
/// permission left (an empty `permList` removes them all, and can widen
/// nothing), and the IP list replaced by the unroutable address. `None`
/// when the listing shows no label to keep.
pub fn disable_body(
    sub_uid: &str,
    listed: &Value,
    api_key: &str,
    passphrase: &str,
) -> Option<String> {
    let label = listed["label"].as_str()?;
    let body = json!({
        "subAccountUid": sub_uid,
        "subAccountApiKey": api_key,
        "passphrase": passphrase,
        "label": label,
        "ipList": [UNROUTABLE_IP],
        "permList": [],
    });
    Some(body.to_string())
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
    fn queries_are_encoded_and_ordered() {
        assert_eq!(sub_keys_query("51/0"), "subAccountUid=51%2F0");
        assert_eq!(sub_accounts_query(None), "limit=100");
        assert_eq!(sub_accounts_query(Some("51")), "idLessThan=51&limit=100");
    }

    #[test]
    fn the_disable_sends_every_field_no_permission_and_an_unroutable_ip() {
        let listed = json!({
            "subAccountUid": "510001", "label": "bot",
            "subAccountApiKey": "bg_k", "permList": ["spot_trade", "wallet_withdraw"],
            "ipList": ["203.0.113.7"],
        });
        let body: Value =
            serde_json::from_str(&disable_body("510001", &listed, "bg_k", "pass1234").unwrap())
                .unwrap();
        let mut sent: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented = MODIFY_VIRTUAL_SUB_KEY.params.to_vec();
        sent.sort_unstable();
        documented.sort_unstable();
        assert_eq!(sent, documented, "no field omitted");
        assert_eq!(body["permList"], json!([]));
        assert_eq!(body["ipList"], json!([UNROUTABLE_IP]));
        assert_eq!(body["label"], "bot");
        assert_eq!(body["passphrase"], "pass1234");
        assert_eq!(
            disable_body("510001", &json!({"subAccountApiKey": "bg_k"}), "bg_k", "p"),
            None,
            "no label read"
        );
    }

    #[test]
    fn a_listed_key_is_found_with_its_permissions() {
        let listing = json!([
            {"subAccountApiKey": "a", "permList": ["transfer", "read"]},
            {"subAccountApiKey": "b"}
        ]);
        let a = listed_key(&listing, "a").unwrap();
        assert_eq!(permission_names(a), vec!["read", "transfer"]);
        assert!(listed_key(&listing, "c").is_none());
        assert_eq!(permission_names(&listing[1]), Vec::<String>::new());
    }
}
