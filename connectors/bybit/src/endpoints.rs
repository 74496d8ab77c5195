//! The Bybit v5 endpoints keyrevoke calls, one place each.
//! Source: bybit-exchange/docs `docs/v5/user/*.mdx`, `docs/v5/market/time.mdx`.

/// POST, the key deletes itself; master keys only. Needs Account Transfer,
/// Subaccount Transfer or Withdrawal (`rm-master-apikey.mdx`).
pub const DELETE_MASTER_KEY: &str = "/v5/user/delete-api";
/// POST; `apikey` omitted when a sub key deletes itself, required when the
/// master deletes it (`rm-sub-apikey.mdx`).
pub const DELETE_SUB_KEY: &str = "/v5/user/delete-sub-api";
/// POST; only the calling master key; `ips` is web-only since 2026-02-10.
pub const UPDATE_MASTER_KEY: &str = "/v5/user/update-api";
/// POST; `apikey` when the master calls; `ips` a comma-separated string
/// (`modify-sub-apikey.mdx`).
pub const UPDATE_SUB_KEY: &str = "/v5/user/update-sub-api";
/// GET; any key, any permission (`apikey-info.mdx`).
pub const QUERY_KEY: &str = "/v5/user/query-api";
/// GET; master only; `subMemberId` required, `limit` 1..=20, `cursor`
/// (`list-sub-apikeys.mdx`).
pub const LIST_SUB_KEYS: &str = "/v5/user/sub-apikeys";
/// GET; master only, holding Account Transfer, Subaccount Transfer or
/// Withdrawal; no parameters; every sub UID (up to 10,000) in
/// `result.subMembers[].uid` (`subuid-list.mdx`). Beyond 10,000 sub UIDs
/// only the paged `/v5/user/submembers` lists them all (`page-subuid.mdx`).
pub const LIST_SUB_MEMBERS: &str = "/v5/user/query-sub-members";
/// GET, public.
pub const SERVER_TIME: &str = "/v5/market/time";

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
