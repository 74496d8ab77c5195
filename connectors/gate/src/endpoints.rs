//! The Gate API v4 endpoints keyrevoke calls, one place each.
//!
//! Sources: gateio/gateapi-python `docs/SubAccountApi.md` (the sub-account
//! key calls: list, get, update, delete; lock), `docs/SubAccountKey.md` and
//! `docs/SubAccountKeyPerms.md` (the key's fields), `docs/AccountApi.md`
//! (`get_account_detail`), `docs/SpotApi.md` (`get_system_time`); the
//! project's notes `exchanges/gate.md`. Paths are written in full, with the
//! `/api/v4` prefix, because that is what the signature covers.
//!
//! Only the main account manages keys, and only its sub accounts' keys: no
//! call deletes, disables or narrows a main-account key, or lets a key act
//! on itself. Such keys are probed and escalated.
//!
//! `POST /sub_accounts/{user_id}/lock` ("Lock the sub-account", 204) is not
//! called: it stops every key and the trading of the whole sub account,
//! which is the operator's decision, not a key's revocation.

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};
use keyrevoke_core::sign::percent_encode;
use serde_json::{Value, json};

/// `DELETE /sub_accounts/{user_id}/keys/{key}`: 204, empty body.
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/api/v4/sub_accounts/{user_id}/keys/{key}",
    params: &[],
    charges: &[charge(limits::UID_SUB_KEY_DELETE, 1)],
    source: "gateio/gateapi-python docs/SubAccountApi.md, delete_sub_account_keys",
};

/// `GET /sub_accounts/{user_id}/keys/{key}`: one `SubAccountKey` (`user_id`,
/// `mode`, `name`, `perms: [{name, read_only}]`, `ip_whitelist`, `key`,
/// `state`, `created_at`, `updated_at`).
pub const GET_SUB_KEY: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v4/sub_accounts/{user_id}/keys/{key}",
    params: &[],
    charges: &[charge(limits::UID_SUB_KEY_GET, 1)],
    source: "gateio/gateapi-python docs/SubAccountApi.md, get_sub_account_key",
};

/// `PUT /sub_accounts/{user_id}/keys/{key}` with a `SubAccountKey` body:
/// 204. "ip white list (list will be removed if no value is passed)",
/// "all permissions will be removed if no value is passed"
/// (SubAccountKey.md, SubAccountKeyPerms.md): every field is sent, read
/// first from [`GET_SUB_KEY`].
pub const UPDATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::PUT,
    path: "/api/v4/sub_accounts/{user_id}/keys/{key}",
    params: &["mode", "name", "perms", "ip_whitelist"],
    charges: &[charge(limits::UID_SUB_KEY_UPDATE, 1)],
    source: "gateio/gateapi-python docs/SubAccountApi.md, update_sub_account_keys",
};

/// `GET /sub_accounts/{user_id}/keys`: every `SubAccountKey` of the sub
/// account.
pub const LIST_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v4/sub_accounts/{user_id}/keys",
    params: &[],
    charges: &[charge(limits::UID_SUB_KEY_LIST, 1)],
    source: "gateio/gateapi-python docs/SubAccountApi.md, list_sub_account_keys",
};

/// `GET /sub_accounts`, main account: `list[SubAccount]` (`user_id`,
/// `login_name`, `remark`, `state`, `type`, `create_time`), every sub
/// account in one reply (no paging is documented); without `type`, "only
/// sub-accounts will be listed".
pub const LIST_SUB_ACCOUNTS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v4/sub_accounts",
    params: &[],
    charges: &[charge(limits::UID_SUB_ACCOUNT_LIST, 1)],
    source: "gateio/gateapi-python docs/SubAccountApi.md, list_sub_accounts",
};

/// `GET /account/detail`, any key: `user_id`, `ip_whitelist`,
/// `currency_pairs`, `key: {mode}`, `tier`. A dead key: 401 `INVALID_KEY`.
pub const ACCOUNT_DETAIL: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v4/account/detail",
    params: &[],
    charges: &[charge(limits::UID_ACCOUNT_DETAIL, 1)],
    source: "gateio/gateapi-python docs/AccountApi.md, get_account_detail",
};

/// `GET /spot/time`, public: `{"server_time": <Unix ms>}`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v4/spot/time",
    params: &[],
    charges: &[charge(limits::IP_PUBLIC, 1)],
    source: "gateio/gateapi-python docs/SpotApi.md, get_system_time",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 7] = [
    &LIST_SUB_ACCOUNTS,
    &DELETE_SUB_KEY,
    &GET_SUB_KEY,
    &UPDATE_SUB_KEY,
    &LIST_SUB_KEYS,
    &ACCOUNT_DETAIL,
    &SERVER_TIME,
];

/// The IP a disabled key is bound to: TEST-NET-1 (RFC 5737), reserved for
/// documentation and routed nowhere, so no one can call from it.
pub const UNROUTABLE_IP: &str = "192.0.2.1";

/// The permission that moves funds: `wallet` (SubAccountKeyPerms.md:
/// "wallet: wallet"; withdrawals and transfers), when not read-only.
pub const FUND_MOVING_PERMISSIONS: [&str; 1] = ["wallet"];

/// A path with its `{user_id}` and `{key}` filled in, each encoded.
pub fn path(endpoint: &Endpoint, user_id: &str, key: &str) -> String {
    endpoint
        .path
        .replace("{user_id}", &percent_encode(user_id))
        .replace("{key}", &percent_encode(key))
}

/// A key's permissions as reports name them: `spot`, or `spot:read_only`.
pub fn permission_names(key: &Value) -> Vec<String> {
    let mut names: Vec<String> = key["perms"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            Some(if p["read_only"].as_bool() == Some(true) {
                format!("{name}:read_only")
            } else {
                name.to_string()
            })
        })
        .collect();
    names.sort();
    names
}

/// The body of the disabling update, from the key as `GET` read it: the
/// same mode and name, every permission it holds made read-only, and the
/// IP list replaced by the unroutable address. Nothing is omitted, since
/// an omitted list is cleared (an emptied IP list would open the key to
/// every address). `None` when the key read lacks a field to copy.
pub fn disable_body(key: &Value) -> Option<String> {
    let perms: Vec<Value> = key["perms"]
        .as_array()?
        .iter()
        .map(|p| Some(json!({ "name": p["name"].as_str()?, "read_only": true })))
        .collect::<Option<_>>()?;
    let body = json!({
        "mode": key["mode"].as_i64()?,
        "name": key["name"].as_str().unwrap_or(""),
        "perms": perms,
        "ip_whitelist": [UNROUTABLE_IP],
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
    fn paths_are_filled_and_encoded() {
        assert_eq!(
            path(&DELETE_SUB_KEY, "510001", "0123abcd"),
            "/api/v4/sub_accounts/510001/keys/0123abcd"
        );
        assert_eq!(
            path(&LIST_SUB_KEYS, "51/0", ""),
            "/api/v4/sub_accounts/51%2F0/keys"
        );
    }

    #[test]
    fn the_disable_sends_every_field_read_only_and_bound_to_nowhere() {
        let read = json!({
            "user_id": "510001", "mode": 1, "name": "bot",
            "perms": [{"name": "wallet", "read_only": false}, {"name": "spot", "read_only": true}],
            "ip_whitelist": ["203.0.113.7"], "key": "k", "state": 1,
        });
        let body: Value = serde_json::from_str(&disable_body(&read).unwrap()).unwrap();
        let mut sent: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented = UPDATE_SUB_KEY.params.to_vec();
        sent.sort_unstable();
        documented.sort_unstable();
        assert_eq!(sent, documented, "no field omitted");
        assert_eq!(
            body["perms"],
            json!([{"name": "wallet", "read_only": true}, {"name": "spot", "read_only": true}])
        );
        assert_eq!(body["ip_whitelist"], json!([UNROUTABLE_IP]));
        assert_eq!(body["mode"], 1);
        assert_eq!(body["name"], "bot");
        assert_eq!(disable_body(&json!({"mode": 1})), None, "no perms read");
    }

    #[test]
    fn permissions_are_named_with_their_read_only_flag() {
        let key = json!({"perms": [{"name": "wallet", "read_only": false}, {"name": "spot", "read_only": true}]});
        assert_eq!(permission_names(&key), vec!["spot:read_only", "wallet"]);
    }
}
