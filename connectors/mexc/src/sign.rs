//! MEXC's request signing (spot v3), as mexcdevelop/apidocs documents it
//! (`spot_v3_en`, "SIGNED", "Timing security"):
//! - the API key travels in the `X-MEXC-APIKEY` header, with
//!   `Content-Type: application/json`;
//! - `signature` = lowercase hex HMAC-SHA256 of `totalParams`, "the query
//!   string concatenated with the request body", keyed by the secret;
//! - `timestamp` (ms) is mandatory; `recvWindow` defaults to 5000 and may
//!   not exceed 60000; the server accepts when
//!   `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow`.
//!
//! keyrevoke sends every parameter in the query string, for every method
//! ("For POST, PUT, and DELETE endpoints, the parameters may be sent as a
//! query string"), in the order ccxt sends them: the endpoint's own, then
//! `timestamp`, `recvWindow`, `signature` (test_data/ccxt_vectors.json).

use keyrevoke_core::Secret;
use keyrevoke_core::endpoint::{Endpoint, Method};
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{Params, hmac_sha256_hex};

pub const HEADER_API_KEY: &str = "X-MEXC-APIKEY";
/// "If recvWindow is not sent, it defaults to 5000."
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5000;
/// "The max cannot go beyond 60,000!"
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;

/// The key that signs a request.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub recv_window_ms: u64,
}

impl Signer<'_> {
    /// A signed call of `endpoint` with its `params`, at `timestamp_ms` by
    /// the exchange's clock.
    pub fn sign(&self, endpoint: &Endpoint, params: &Params, timestamp_ms: i64) -> PreparedRequest {
        let mut query = params.encode();
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!(
            "timestamp={timestamp_ms}&recvWindow={}",
            self.recv_window_ms
        ));
        self.sign_query(endpoint.method.clone(), endpoint.path, &query)
    }

    /// Sign an already encoded query string (`totalParams`: no body is
    /// sent) and append `signature` as its last parameter.
    pub fn sign_query(&self, method: Method, path: &str, unsigned_query: &str) -> PreparedRequest {
        let signature = hmac_sha256_hex(self.secret.expose(), unsigned_query);
        let mut headers = vec![(HEADER_API_KEY, self.api_key.to_string())];
        if method != Method::GET {
            headers.push(("Content-Type", "application/json".to_string()));
        }
        PreparedRequest {
            mutating: method != Method::GET,
            method,
            path_and_query: format!("{path}?{unsigned_query}&signature={signature}"),
            headers,
            body: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints;

    const DOC_KEY: &str = "mx0aBYs33eIilxBWC5";
    const DOC_SECRET: &str = "45d0b3c26f2644f19bfb98b07741b2f5";

    #[test]
    fn a_read_is_not_mutating_and_the_secret_is_never_in_the_request() {
        let secret = Secret::from(DOC_SECRET);
        let signer = Signer {
            api_key: DOC_KEY,
            secret: &secret,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        };
        let built = signer.sign(&endpoints::ACCOUNT, &Params::new(), 1_644_489_390_087);
        assert!(!built.mutating);
        let shown = format!("{built:?} {}", built.path_and_query);
        assert!(!shown.contains(DOC_SECRET), "{shown}");
    }
}
