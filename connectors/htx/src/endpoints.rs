//! The HTX (Huobi) spot endpoints keyrevoke calls, one place each.
//!
//! Sources: HTX's API docs, "Sub-account Management"
//! (htx.com/en-us/opend/newApiPages: "Sub user API key deletion",
//! id 7ec5208e-7773-11ed-9966-0242ac110003; "Sub user API key
//! modification", id 7ec52249-7773-11ed-9966-0242ac110003; both name
//! `https://api.huobi.pro` as the online address, `api-aws.huobi.pro` for
//! AWS clients), the earlier edition of the same docs
//! (huobiapi.github.io/docs/spot/v1, "Get Sub User's List", "Query API
//! Key", "Get UID", "Lock/Unlock Sub User", "Get current timestamp"), the
//! official SDK HuobiRDCenter/huobi_Python `huobi/client/subuser.py`
//! (the same paths and parameter names) and the project's notes
//! `exchanges/htx.md`.
//!
//! Only the parent user manages keys, and only its sub users' keys: no
//! call deletes or narrows a parent's key, or lets a key act on itself.
//! Such keys are probed and escalated.
//!
//! `POST /v2/sub-user/management` (`action: lock`) is not called: it
//! freezes the whole sub user (every key, its trading and login), keys
//! that the inventory does not name included; the modification already
//! strips the one key named, with the same Trade permission, so a parent
//! refused the modification would be refused the lock too. Locking a sub
//! user stays the operator's decision.
//!
//! Not called either: `POST /v2/sub-user/api-key-generation`, which needs
//! the parent's authenticator code (`otpToken`) on every call, so HTX
//! keys are not rotated unattended.

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};
use serde_json::Value;

/// POST, parent, body `{subUid, accessKey}`, Trade permission. Replies
/// `{"code": 200, "data": null}`.
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/v2/sub-user/api-key-deletion",
    params: &["subUid", "accessKey"],
    charges: &[charge(limits::KEY_REQUESTS, 1)],
    source: "HTX API docs, \"Sub user API key deletion\" (newApiPages id 7ec5208e-7773-11ed-9966-0242ac110003)",
};

/// POST, parent, body `{subUid, accessKey, note?, permission?,
/// ipAddresses?}`, Trade permission. `permission`: `readOnly` (required
/// in any list) and optionally `trade`, comma-separated; `ipAddresses`: at
/// most 20 IPv4/IPv6 hosts or IPv4 networks, comma-separated. The docs
/// do not say what an omitted field becomes, so the disable omits none it
/// relies on: both are always sent. Replies `{"code": 200, "data":
/// {note, permission, ipAddresses}}`.
pub const MODIFY_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/v2/sub-user/api-key-modification",
    params: &["subUid", "accessKey", "permission", "ipAddresses"],
    charges: &[charge(limits::KEY_REQUESTS, 1)],
    source: "HTX API docs, \"Sub user API key modification\" (newApiPages id 7ec52249-7773-11ed-9966-0242ac110003)",
};

/// GET, parent, Read permission: `uid` (the parent's own or a sub
/// user's), `accessKey` (optional: without it, every key of `uid`).
/// Replies `{"code": 200, "data": [{accessKey, note, permission,
/// ipAddresses, validDays, status: normal|expired, createTime,
/// updateTime}]}`.
pub const QUERY_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v2/user/api-key",
    params: &["uid", "accessKey"],
    charges: &[charge(limits::KEY_REQUESTS, 1)],
    source: "HTX API docs, \"Query API Key\" (parent and sub user); huobi_Python subuser.py get_user_apikey_info",
};

/// GET, parent, Read permission: `fromId` (the next page's start).
/// Replies `{"code": 200, "data": [{uid, userState}], "nextId"?}`.
pub const LIST_SUB_USERS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v2/sub-user/user-list",
    params: &["fromId"],
    charges: &[charge(limits::KEY_REQUESTS, 1)],
    source: "HTX API docs, \"Get Sub User's List\"; huobi_Python subuser.py get_subuser_user_list",
};

/// GET, any key: `{"code": 200, "data": <its UID>}`. A key HTX does not
/// know is refused `api-signature-not-valid`, "Incorrect Access key".
pub const UID: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v2/user/uid",
    params: &[],
    charges: &[charge(limits::KEY_REQUESTS, 1)],
    source: "HTX API docs, \"Get UID\"; huobi_Python subuser.py get_uid",
};

/// GET, public: `{"status": "ok", "data": <Unix ms>}`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v1/common/timestamp",
    params: &[],
    charges: &[charge(limits::IP_REQUESTS, 1)],
    source: "HTX API docs, \"Get current timestamp\"",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 6] = [
    &DELETE_SUB_KEY,
    &MODIFY_SUB_KEY,
    &QUERY_KEYS,
    &LIST_SUB_USERS,
    &UID,
    &SERVER_TIME,
];

/// The IP a disabled key is bound to: TEST-NET-1 (RFC 5737), reserved for
/// documentation and routed nowhere, so no one can call from it.
pub const UNROUTABLE_IP: &str = "192.0.2.1";

/// The permission a disabled key keeps: "readOnly is required permission
/// for any API key, while trade permission is optional".
pub const READ_ONLY: &str = "readOnly";

/// The permission that moves funds on a sub user's key: Trade ("place
/// order, cancel order and transfer"); sub keys cannot hold Withdraw, a
/// parent's can.
pub const FUND_MOVING_PERMISSIONS: [&str; 2] = ["trade", "withdraw"];

/// A JSON object with its members in the order given: HTX documents its
/// bodies in this order, and ccxt sends them so
/// (test_data/ccxt_vectors.json); `serde_json`'s map would sort them.
pub fn json_body(members: &[(&str, Value)]) -> String {
    let inner: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("{}:{value}", Value::from(*name)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A sub user's UID as the bodies carry it: a number (`long`).
pub fn sub_uid(account: &str) -> Value {
    account
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(account))
}

/// The deletion's body.
pub fn delete_body(account: &str, api_key: &str) -> String {
    json_body(&[
        ("subUid", sub_uid(account)),
        ("accessKey", Value::from(api_key)),
    ])
}

/// The disabling modification's body: read-only, bound to the unroutable
/// address. Both fields are sent, whatever an omitted one would mean.
pub fn disable_body(account: &str, api_key: &str) -> String {
    json_body(&[
        ("subUid", sub_uid(account)),
        ("accessKey", Value::from(api_key)),
        ("permission", Value::from(READ_ONLY)),
        ("ipAddresses", Value::from(UNROUTABLE_IP)),
    ])
}

/// A key's permissions as the query shows them (`readOnly,trade`), sorted;
/// an expired key's list ends with `expired`.
pub fn permission_names(key: &Value) -> Vec<String> {
    let mut names =
        keyrevoke_core::connector::permission_list(key["permission"].as_str().unwrap_or(""));
    if key["status"].as_str() == Some("expired") {
        names.push("expired".into());
    }
    names
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
    fn bodies_keep_the_documented_order_and_a_numeric_uid() {
        assert_eq!(
            delete_body("310001", "aaaa-bbbb"),
            r#"{"subUid":310001,"accessKey":"aaaa-bbbb"}"#
        );
        let disable: Value = serde_json::from_str(&disable_body("310001", "k")).unwrap();
        let mut sent: Vec<&str> = disable
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented = MODIFY_SUB_KEY.params.to_vec();
        sent.sort_unstable();
        documented.sort_unstable();
        assert_eq!(sent, documented, "permission and ipAddresses always sent");
        assert_eq!(disable["permission"], READ_ONLY);
        assert_eq!(disable["ipAddresses"], UNROUTABLE_IP);
        assert_eq!(
            json_body(&[("a\"b", Value::from("x\"y"))]),
            r#"{"a\"b":"x\"y"}"#
        );
    }

    #[test]
    fn permissions_are_read_from_the_comma_list() {
        let key = serde_json::json!({"permission": "trade,readOnly", "status": "normal"});
        assert_eq!(permission_names(&key), vec!["readOnly", "trade"]);
        let expired = serde_json::json!({"permission": "readOnly", "status": "expired"});
        assert_eq!(permission_names(&expired), vec!["readOnly", "expired"]);
    }
}
