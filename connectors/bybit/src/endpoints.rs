//! The Bybit v5 endpoints keyrevoke calls, one place each.
//! Source: bybit-exchange/docs `docs/v5/user/*.mdx`, `docs/v5/market/time.mdx`
//! (each endpoint's `source` names its page).

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};

/// POST, the key deletes itself; master keys only. Needs Account Transfer,
/// Subaccount Transfer or Withdrawal.
pub const DELETE_MASTER_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/v5/user/delete-api",
    params: &[],
    charges: &[charge(limits::IP, 1), charge(limits::UID_KEY_WRITE, 1)],
    source: "bybit-exchange/docs docs/v5/user/rm-master-apikey.mdx",
};
/// POST; `apikey` omitted when a sub key deletes itself, required when the
/// master deletes it.
pub const DELETE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/v5/user/delete-sub-api",
    params: &["apikey"],
    charges: &[charge(limits::IP, 1), charge(limits::UID_KEY_WRITE, 1)],
    source: "bybit-exchange/docs docs/v5/user/rm-sub-apikey.mdx",
};
/// POST; only the calling master key; `ips` is web-only since 2026-02-10.
pub const UPDATE_MASTER_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/v5/user/update-api",
    params: &["readOnly"],
    charges: &[charge(limits::IP, 1), charge(limits::UID_KEY_WRITE, 1)],
    source: "bybit-exchange/docs docs/v5/user/ (Modify Master API Key)",
};
/// POST; `apikey` when the master calls; `ips` a comma-separated string.
pub const UPDATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/v5/user/update-sub-api",
    params: &["readOnly", "ips", "apikey"],
    charges: &[charge(limits::IP, 1), charge(limits::UID_KEY_WRITE, 1)],
    source: "bybit-exchange/docs docs/v5/user/modify-sub-apikey.mdx",
};
/// GET; any key, any permission.
pub const QUERY_KEY: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v5/user/query-api",
    params: &[],
    charges: &[charge(limits::IP, 1), charge(limits::UID_KEY_READ, 1)],
    source: "bybit-exchange/docs docs/v5/user/apikey-info.mdx",
};
/// GET; master only; `subMemberId` required, `limit` 1..=20, `cursor`.
pub const LIST_SUB_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v5/user/sub-apikeys",
    params: &["subMemberId", "limit", "cursor"],
    charges: &[charge(limits::IP, 1), charge(limits::UID_KEY_READ, 1)],
    source: "bybit-exchange/docs docs/v5/user/list-sub-apikeys.mdx",
};
/// GET; master only, holding Account Transfer, Subaccount Transfer or
/// Withdrawal; no parameters; every sub UID (up to 10,000) in
/// `result.subMembers[].uid`. Beyond 10,000 sub UIDs only the paged
/// `/v5/user/submembers` lists them all (`page-subuid.mdx`).
pub const LIST_SUB_MEMBERS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v5/user/query-sub-members",
    params: &[],
    charges: &[charge(limits::IP, 1), charge(limits::UID_SUB_MEMBERS, 1)],
    source: "bybit-exchange/docs docs/v5/user/subuid-list.mdx",
};
/// POST; master only, holding Account Transfer, Subaccount Transfer or
/// Withdrawal; `subuid` (integer), `readOnly` (0/1) and `permissions`
/// (groups of names) required, `note` and `ips` (comma-separated, `*` or
/// absent: unbound) optional; the reply holds the new key's `secret`, once.
/// 1 request per second per UID (rate-limit.mdx).
pub const CREATE_SUB_KEY: Endpoint = Endpoint {
    method: Method::POST,
    path: "/v5/user/create-sub-api",
    params: &["subuid", "readOnly", "permissions", "note", "ips"],
    charges: &[charge(limits::IP, 1), charge(limits::UID_KEY_CREATE, 1)],
    source: "bybit-exchange/docs docs/v5/user/create-subuid-apikey.mdx",
};
/// GET, public: the envelope's `time` is the server time in ms.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/v5/market/time",
    params: &[],
    charges: &[charge(limits::IP, 1)],
    source: "bybit-exchange/docs docs/v5/market/time.mdx",
};

pub static ENDPOINTS: [&Endpoint; 9] = [
    &CREATE_SUB_KEY,
    &DELETE_MASTER_KEY,
    &DELETE_SUB_KEY,
    &UPDATE_MASTER_KEY,
    &UPDATE_SUB_KEY,
    &QUERY_KEY,
    &LIST_SUB_KEYS,
    &LIST_SUB_MEMBERS,
    &SERVER_TIME,
];

/// The IP a disabled key is bound to: TEST-NET-1 (RFC 5737), reserved for
/// documentation and routed nowhere, so no one can call from it.
pub const UNROUTABLE_IP: &str = "192.0.2.1";

/// Largest page `sub-apikeys` serves.
pub const LIST_PAGE_SIZE: u32 = 20;

/// Wallet permissions that let a key delete itself (or a master delete a sub
/// key): "Account Transfer", "Subaccount Transfer"/"Sub Member Transfer",
/// "Withdrawal", spelled as `query-api` reports them.
pub const SELF_DELETE_PERMISSIONS: [&str; 4] = [
    "AccountTransfer",
    "SubMemberTransfer",
    "SubMemberTransferList",
    "Withdraw",
];

/// Permissions that can move funds out of the account.
pub const FUND_MOVING_PERMISSIONS: [&str; 4] = SELF_DELETE_PERMISSIONS;

/// `sub-apikeys`' query: the sub UID, the largest page, and where the
/// listing continues (the cursor as the last reply gave it, encoded).
pub fn list_sub_keys_query(sub_uid: &str, cursor: Option<&str>) -> String {
    let mut query = format!("subMemberId={sub_uid}&limit={LIST_PAGE_SIZE}");
    if let Some(c) = cursor.filter(|c| !c.is_empty()) {
        query.push_str("&cursor=");
        query.extend(url::form_urlencoded::byte_serialize(c.as_bytes()));
    }
    query
}

pub fn master_delete_body(sub_api_key: &str) -> String {
    serde_json::json!({ "apikey": sub_api_key }).to_string()
}

pub fn disable_sub_body(sub_api_key: Option<&str>) -> String {
    let mut body = serde_json::json!({ "readOnly": 1, "ips": UNROUTABLE_IP });
    if let Some(k) = sub_api_key {
        body["apikey"] = serde_json::Value::String(k.to_string());
    }
    body.to_string()
}

pub fn disable_master_body() -> String {
    serde_json::json!({ "readOnly": 1 }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_charges_documented_tiers() {
        let problems = keyrevoke_core::endpoint::endpoint_problems(&limits::TIERS, &ENDPOINTS);
        assert_eq!(problems, Vec::<String>::new());
    }
}
