//! The Kraken spot REST endpoints keyrevoke calls, one place each.
//!
//! No Kraken API creates, deletes or disables a spot API key: keys are
//! managed in the web UI only (Settings -> API; the API reference,
//! docs.kraken.com/api-reference, lists no key-management call for spot
//! keys). So keyrevoke probes a Kraken key with its own secret and
//! escalates it, with the page where its owner deletes it. (Kraken's
//! institutional "Prime API users" have key calls of their own,
//! `DeletePrimeApiUserKey`; those are not spot keys and are not covered.)

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};

/// "Get API Key Info": the calling key's `apiKeyName`, `permissions`
/// (`query-funds`, `withdraw-funds`, ...), `validUntil`, `ipAllowlist`,
/// `lastUsed`; "API Key Permissions Required: None", so any live key
/// answers. Body: `nonce` (and `otp` when the key has 2FA).
pub const GET_API_KEY_INFO: Endpoint = Endpoint {
    method: Method::POST,
    path: "/0/private/GetApiKeyInfo",
    params: &[],
    charges: &[
        charge(limits::KEY_COUNTER, 1),
        charge(limits::IP_FAILED_CALLS, 1),
    ],
    source: "docs.kraken.com/api-reference/account-data/get-api-key-info",
};

/// "Get Server Time": public; `{"error": [], "result": {"unixtime",
/// "rfc1123"}}`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/0/public/Time",
    params: &[],
    charges: &[charge(limits::IP_PUBLIC, 1)],
    source: "docs.kraken.com/api-reference/market-data/get-server-time",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 2] = [&GET_API_KEY_INFO, &SERVER_TIME];

/// The permissions that move funds out of the account (the key
/// permissions of "How to create an API key", support.kraken.com article
/// 360000919966: "Withdraw Funds"; `GetApiKeyInfo` names it
/// `withdraw-funds`).
pub const FUND_MOVING_PERMISSIONS: [&str; 1] = ["withdraw-funds"];

/// Where the owner deletes a Kraken key by hand (Settings -> API, as
/// support.kraken.com "How to create an API key" walks to it). The
/// address itself is unconfirmed: the support articles show the menu path,
/// not the URL.
pub const API_KEYS_PAGE: &str = "https://pro.kraken.com/app/settings/api";

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
}
