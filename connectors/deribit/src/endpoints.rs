//! The Deribit API v2 methods keyrevoke calls, one place each.
//!
//! Sources: docs.deribit.com, "API reference" (each method's page, cited
//! below: its parameters, its result and the scope it needs) and the
//! articles "Authentication" and "Managing Subaccounts"; the project's notes
//! `exchanges/deribit.md`. Every method is JSON-RPC over HTTP: `GET
//! /api/v2/<method>` with its parameters in the query string, as the docs'
//! examples and ccxt (test_data/ccxt_vectors.json) send them. Paths are
//! written in full, since the signature covers them.
//!
//! A key is named by its integer `id` in its own account; an inventory
//! carries its `client_id`, so the id is read from `private/list_api_keys`
//! first. A key in a sub account is reached with a token for that account:
//! `public/auth` (grant `client_signature`) gives the main account's
//! refresh token, `public/exchange_token` {refresh_token, subject_id} turns
//! it into the sub account's ("can be used to switch between subaccounts").
//!
//! Not called: `private/reset_api_key` (a new secret would leave a live key
//! whose secret only the caller knows), `private/edit_api_key` and
//! `private/change_scope_in_api_key` (TFA required).

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};
use serde_json::Value;

/// `private/list_api_keys`, scope `account:read`: every key of the
/// account, `[{id, client_id, enabled, max_scope, name, timestamp, …}]`.
pub const LIST_KEYS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/private/list_api_keys",
    params: &[],
    charges: &[charge(limits::ACCOUNT_CREDITS, limits::CREDITS_PER_CALL)],
    source: "docs.deribit.com api-reference/account-management/private-list_api_keys",
};

/// `private/remove_api_key` {id}, scope `account:read_write`: "Permanently
/// deletes an API key from your account"; result `"ok"`. Not marked TFA
/// required.
pub const REMOVE_KEY: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/private/remove_api_key",
    params: &["id"],
    charges: &[charge(limits::ACCOUNT_CREDITS, limits::CREDITS_PER_CALL)],
    source: "docs.deribit.com api-reference/account-management/private-remove_api_key",
};

/// `private/disable_api_key` {id}, scope `account:read_write`: the key
/// stops authenticating until `enable_api_key`; result: the key. Not
/// marked TFA required.
pub const DISABLE_KEY: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/private/disable_api_key",
    params: &["id"],
    charges: &[charge(limits::ACCOUNT_CREDITS, limits::CREDITS_PER_CALL)],
    source: "docs.deribit.com api-reference/account-management/private-disable_api_key",
};

/// `private/get_subaccounts`, scope `account:read`, main account: `[{id,
/// username, type: "main" | "subaccount", …}]`, the main account first.
pub const GET_SUBACCOUNTS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/private/get_subaccounts",
    params: &[],
    charges: &[charge(limits::ACCOUNT_CREDITS, limits::CREDITS_PER_CALL)],
    source: "docs.deribit.com api-reference/subaccount-management/private-get_subaccounts",
};

/// `public/auth`, grant `client_signature`: `client_id`, `timestamp` (ms),
/// `signature` = hex HMAC-SHA256(secret, `timestamp\nnonce\ndata`),
/// `nonce`, `data`. Result: `access_token`, `refresh_token`, `expires_in`,
/// `scope`, `token_type: "bearer"`. Invalid credentials: 13004.
pub const AUTH: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/public/auth",
    params: &[
        "grant_type",
        "client_id",
        "timestamp",
        "signature",
        "nonce",
        "data",
    ],
    charges: &[charge(limits::IP_PUBLIC, limits::CREDITS_PER_CALL)],
    source: "docs.deribit.com api-reference/authentication/public-auth; articles/authentication",
};

/// `public/exchange_token` {refresh_token, subject_id}: "Generates a token
/// for a new subject id. This method can be used to switch between
/// subaccounts." Result as `public/auth`'s.
pub const EXCHANGE_TOKEN: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/public/exchange_token",
    params: &["refresh_token", "subject_id"],
    charges: &[charge(limits::ACCOUNT_CREDITS, limits::CREDITS_PER_CALL)],
    source: "docs.deribit.com api-reference/authentication/public-exchange_token",
};

/// `public/get_time`: the server's clock, Unix ms, as `result`.
pub const GET_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v2/public/get_time",
    params: &[],
    charges: &[charge(limits::IP_PUBLIC, limits::CREDITS_PER_CALL)],
    source: "docs.deribit.com api-reference/supporting/public-get_time",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 7] = [
    &LIST_KEYS,
    &REMOVE_KEY,
    &DISABLE_KEY,
    &GET_SUBACCOUNTS,
    &AUTH,
    &EXCHANGE_TOKEN,
    &GET_TIME,
];

/// Whether a call changes state. Deribit takes every method as a GET, so
/// the HTTP method cannot tell (`Endpoint::mutating` reads it): a failure
/// after sending a remove or a disable leaves its outcome unknown.
pub fn changes_state(endpoint: &Endpoint) -> bool {
    *endpoint == REMOVE_KEY || *endpoint == DISABLE_KEY
}

/// The scope that moves funds: `wallet:read_write` (withdrawals and
/// transfers; articles/access-scope).
pub const FUND_MOVING_SCOPES: [&str; 1] = ["wallet:read_write"];

/// One key of a `list_api_keys` result.
pub struct ListedKey<'a> {
    pub id: i64,
    pub enabled: bool,
    pub name: Option<&'a str>,
    /// `max_scope`'s entries (`account:read_write`, `trade:read`, …).
    pub scopes: Vec<String>,
}

/// The key whose `client_id` is `client_id` in a `list_api_keys` result.
pub fn find_key<'a>(result: &'a Value, client_id: &str) -> Option<ListedKey<'a>> {
    let k = result
        .as_array()?
        .iter()
        .find(|k| k["client_id"].as_str() == Some(client_id))?;
    Some(ListedKey {
        id: k["id"].as_i64()?,
        enabled: k["enabled"].as_bool().unwrap_or(true),
        name: k["name"].as_str().filter(|n| !n.is_empty()),
        scopes: scopes(k["max_scope"].as_str().unwrap_or("")),
    })
}

/// A scope string's `name:access` entries, sorted (`connection`,
/// `mainaccount` and the like are not permissions).
pub fn scopes(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split_whitespace()
        .filter(|s| s.contains(':'))
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::endpoint::endpoint_problems;
    use serde_json::json;

    #[test]
    fn every_endpoint_charges_documented_tiers() {
        assert_eq!(
            endpoint_problems(&limits::TIERS, &ENDPOINTS),
            Vec::<String>::new()
        );
    }

    #[test]
    fn only_the_remove_and_the_disable_change_state() {
        let writes: Vec<&str> = ENDPOINTS
            .iter()
            .filter(|e| changes_state(e))
            .map(|e| e.path)
            .collect();
        assert_eq!(writes, vec![REMOVE_KEY.path, DISABLE_KEY.path]);
    }

    #[test]
    fn a_key_is_found_by_its_client_id_in_the_documented_listing() {
        // The example result of private/list_api_keys.
        let listed = json!([
            {"timestamp": 1560236001108i64, "max_scope": "account:read block_trade:read trade:read_write wallet:read",
             "id": 1, "enabled": false, "default": false, "client_id": "TiA4AyLPq3", "name": "", "enabled_features": []},
            {"timestamp": 1560236287708i64, "max_scope": "account:read_write block_trade:read_write trade:read_write wallet:read_write",
             "id": 2, "enabled": true, "default": true, "client_id": "aD-KFx-H", "name": "", "enabled_features": []}
        ]);
        let k = find_key(&listed, "aD-KFx-H").expect("listed");
        assert_eq!(k.id, 2);
        assert!(k.enabled);
        assert!(k.scopes.contains(&"wallet:read_write".to_string()));
        let disabled = find_key(&listed, "TiA4AyLPq3").expect("listed");
        assert!(!disabled.enabled);
        assert_eq!(disabled.name, None);
        assert!(find_key(&listed, "absent").is_none());
    }
}
