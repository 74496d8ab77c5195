//! The Coinbase Advanced Trade endpoints keyrevoke calls, one place each.
//!
//! No API creates, deletes or disables a CDP (Advanced Trade) API key: keys
//! are managed in the CDP portal only
//! (docs.cdp.coinbase.com/coinbase-app/authentication-authorization/api-key-authentication,
//! "Creating API Keys"; the Advanced Trade API reference lists no key
//! management call). So keyrevoke only probes a Coinbase key and escalates it.

use crate::limits::{self, charge};
use keyrevoke_core::endpoint::{Endpoint, Method};
use url::Url;

/// Production base URL (coinbase-advanced-py `constants.py`: `BASE_URL =
/// "api.coinbase.com"`, `API_PREFIX = "/api/v3/brokerage"`).
pub const PRODUCTION_HOST: &str = "api.coinbase.com";

/// GET, any CDP key: `can_view`, `can_trade`, `can_transfer`,
/// `portfolio_uuid`, `portfolio_type`. Source:
/// docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/data-api/get-api-key-permissions
/// (operationId `RetailBrokerageApi_GetApiKeyPermissions`); coinbase-advanced-py
/// `rest/data_api.py` `get_api_key_permissions` and
/// `rest/types/data_api_types.py` `GetAPIKeyPermissionsResponse`.
pub const KEY_PERMISSIONS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/brokerage/key_permissions",
    params: &[],
    charges: &[charge(limits::USER_PRIVATE, 1)],
    source: "docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/data-api/get-api-key-permissions",
};

/// GET, public: `{"iso", "epochSeconds", "epochMillis"}` (the epochs as
/// int64, which the gRPC gateway writes as strings). Source:
/// docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/public/get-server-time
/// (`coinbase.retail.rest.proxy.common.ExtendedTimestamp`);
/// coinbase-advanced-py `rest/public.py` `get_unix_time`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::GET,
    path: "/api/v3/brokerage/time",
    params: &[],
    charges: &[charge(limits::IP_PUBLIC, 1)],
    source: "docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/public/get-server-time",
};

/// Every endpoint above, for the check against `limits.rs`.
pub static ENDPOINTS: [&Endpoint; 2] = [&KEY_PERMISSIONS, &SERVER_TIME];

/// `key_permissions` fields, in the order reports list them.
pub const PERMISSION_FIELDS: [&str; 3] = ["can_view", "can_trade", "can_transfer"];

/// The permission that lets a key move funds out of the account
/// (docs.cdp.coinbase.com/coinbase-app/authentication-authorization/authorization,
/// "API Keys: Simple permissions": "Transfer: Enables your application to
/// send and receive funds, on and off platform").
pub const FUND_MOVING_PERMISSION: &str = "can_transfer";

/// Where the user deletes a CDP key by hand (the CDP portal's API keys page,
/// as the CDP docs link it).
pub const API_KEYS_PAGE: &str = "https://portal.cdp.coinbase.com/projects/api-keys";

/// The host a JWT's `uri` claim names: the base URL's host, with its port
/// when the URL names a non-default one. In production that is
/// `api.coinbase.com`, exactly as coinbase-advanced-py writes it
/// (`rest_base.py` `set_headers`: `f"{method} {self.base_url}{path}"`, where
/// `base_url` is the host the SDK connects to). Against the loopback
/// simulator it is `127.0.0.1:<port>`, the request's own `Host` header,
/// which is what the simulator checks, as the real API checks its own host.
pub fn jwt_host(base: &Url) -> String {
    let host = base.host_str().unwrap_or(PRODUCTION_HOST);
    match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// `METHOD host path`, no scheme, no query (`jwt_generator.format_jwt_uri`).
pub fn jwt_uri(method: &str, host: &str, path: &str) -> String {
    format!("{method} {host}{path}")
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
    fn the_uri_names_the_configured_host_and_a_non_default_port() {
        let prod = Url::parse("https://api.coinbase.com").unwrap();
        assert_eq!(jwt_host(&prod), "api.coinbase.com");
        assert_eq!(
            jwt_uri("GET", &jwt_host(&prod), KEY_PERMISSIONS.path),
            "GET api.coinbase.com/api/v3/brokerage/key_permissions"
        );
        let explicit_default = Url::parse("https://api.coinbase.com:443/").unwrap();
        assert_eq!(jwt_host(&explicit_default), "api.coinbase.com");
        let sim = Url::parse("http://127.0.0.1:40123").unwrap();
        assert_eq!(jwt_host(&sim), "127.0.0.1:40123");
    }
}
