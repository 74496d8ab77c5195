//! Bybit v5 request signing.
//!
//! Source: bybit-exchange/docs `docs/v5/guide.mdx` ("Authentication"):
//! prehash = timestamp + api_key + recv_window + (GET: query string | POST:
//! raw JSON body); signature = lowercase hex HMAC-SHA256 of it with the
//! secret; sent as `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP` (ms),
//! `X-BAPI-RECV-WINDOW`, `X-BAPI-SIGN`.

use keyrevoke_core::Secret;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_hex;
use reqwest::Method;

pub const HEADER_API_KEY: &str = "X-BAPI-API-KEY";
pub const HEADER_TIMESTAMP: &str = "X-BAPI-TIMESTAMP";
pub const HEADER_RECV_WINDOW: &str = "X-BAPI-RECV-WINDOW";
pub const HEADER_SIGN: &str = "X-BAPI-SIGN";

/// The docs' default receive window, in milliseconds.
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5000;

/// The v5 prehash string.
pub fn prehash(timestamp_ms: i64, api_key: &str, recv_window_ms: u64, payload: &str) -> String {
    format!("{timestamp_ms}{api_key}{recv_window_ms}{payload}")
}

/// The key that signs a request.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub recv_window_ms: u64,
}

impl Signer<'_> {
    /// Build a signed v5 request. `query` is the exact query string (without
    /// `?`) for GET; `body` the exact JSON for POST.
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&str>,
        timestamp_ms: i64,
    ) -> PreparedRequest {
        let (api_key, secret, recv_window_ms) = (self.api_key, self.secret, self.recv_window_ms);
        let payload = if method == Method::GET {
            query
        } else {
            body.unwrap_or("")
        };
        let sign = hmac_sha256_hex(
            secret.expose(),
            &prehash(timestamp_ms, api_key, recv_window_ms, payload),
        );
        let path_and_query = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let mutating = method != Method::GET;
        PreparedRequest {
            method,
            path_and_query,
            headers: vec![
                ("Content-Type", "application/json".to_string()),
                (HEADER_API_KEY, api_key.to_string()),
                (HEADER_TIMESTAMP, timestamp_ms.to_string()),
                (HEADER_RECV_WINDOW, recv_window_ms.to_string()),
                (HEADER_SIGN, sign),
            ],
            body: body.map(str::to_string),
            mutating,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Bybit's published HMAC example (legacy v2 docs, also in
    /// bybit-exchange/api-usage-examples `legacy_demo/api_demo/Encryption.cs`):
    /// it pins the HMAC-SHA256 lowercase-hex primitive with a published secret.
    #[test]
    fn published_hmac_example() {
        let secret = "t7T0YlFnYXk0Fx3JswQsDrViLg1Gh3DUU5Mr";
        let message = "api_key=B2Rou0PLPpGqcU0Vu2&side=Buy&symbol=BTCUSD&qty=100&price=3001.5&time_in_force=GoodTillCancel&order_type=Limit&reduce_only=true&timestamp=1542434791000";
        assert_eq!(
            hmac_sha256_hex(secret, message),
            "52a6a6fc4da6d395baa8daccd21eb903eb47c19c03112cc2c80b005f2d181aef"
        );
    }

    /// Requests produced by ccxt 4.5.90 for fixed credentials and clock
    /// (test_data/ccxt_vectors.json, copied from the project's shared
    /// vectors with their provenance). Every header and the body must match
    /// byte for byte.
    #[test]
    fn matches_requests_built_by_an_independent_client() {
        let vectors: Value = serde_json::from_str(include_str!("../test_data/ccxt_vectors.json"))
            .expect("vector file parses");
        for v in vectors["vectors"].as_array().unwrap() {
            let what = v["what"].as_str().unwrap();
            let creds = &v["credentials"];
            let req = &v["request"];
            let url = req["url"].as_str().unwrap();
            let path_q = url.trim_start_matches("https://api.bybit.com");
            let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
            let method: Method = req["method"].as_str().unwrap().parse().unwrap();
            let body = req["body"].as_str();
            let secret = Secret::from(creds["api_secret"].as_str().unwrap());
            let signer = Signer {
                api_key: creds["api_key"].as_str().unwrap(),
                secret: &secret,
                recv_window_ms: DEFAULT_RECV_WINDOW_MS,
            };
            let built = signer.sign(method, path, query, body, v["clock_ms"].as_i64().unwrap());
            for (name, expected) in req["headers"].as_object().unwrap() {
                let got = built.header(name);
                assert_eq!(got, expected.as_str(), "{what}: header {name}");
            }
            assert_eq!(built.body.as_deref(), body, "{what}: body");
        }
    }
}
