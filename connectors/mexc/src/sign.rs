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
    const DOC_PAYLOAD: &str = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087";

    /// spot_v3_en, "SIGNED Endpoint Examples for POST /api/v3/order",
    /// Example 2 (the same payload as a query string). Example 1 prints
    /// `323c96ab…843a117` for the very same input: it cannot be right for
    /// both, `openssl dgst` gives Example 2's value, and so do we.
    #[test]
    fn the_documented_examples_are_reproduced() {
        let secret = Secret::from(DOC_SECRET);
        let signer = Signer {
            api_key: DOC_KEY,
            secret: &secret,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        };
        let built = signer.sign_query(Method::POST, "/api/v3/order", DOC_PAYLOAD);
        assert_eq!(
            built.path_and_query,
            format!(
                "/api/v3/order?{DOC_PAYLOAD}&signature=fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"
            )
        );
        assert_eq!(built.header(HEADER_API_KEY), Some(DOC_KEY));
        // Example 3: query and body concatenated with no `&` between them.
        assert_eq!(
            hmac_sha256_hex(
                DOC_SECRET,
                "symbol=BTCUSDT&side=BUY&type=LIMITquantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
            ),
            "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592"
        );
    }

    /// ccxt 4.5.90's requests for the calls keyrevoke makes
    /// (test_data/ccxt_vectors.json, from ../shared/vectors/mexc.json),
    /// built here by the connector's own builders: byte for byte.
    #[test]
    fn matches_requests_built_by_ccxt() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../test_data/ccxt_vectors.json")).unwrap();
        let mut checked = 0;
        for v in vectors["vectors"].as_array().unwrap() {
            let what = v["what"].as_str().unwrap();
            let (endpoint, params) = match what {
                "master deletes a sub-account key" => (
                    &endpoints::DELETE_SUB_KEY,
                    endpoints::delete_sub_key_params("mexcsub001", "mx0SUBKEY123"),
                ),
                "liveness probe" => (&endpoints::ACCOUNT, Params::new()),
                other => panic!("no builder for the vector `{other}`"),
            };
            let creds = &v["credentials"];
            let secret = Secret::from(creds["api_secret"].as_str().unwrap());
            let signer = Signer {
                api_key: creds["api_key"].as_str().unwrap(),
                secret: &secret,
                recv_window_ms: DEFAULT_RECV_WINDOW_MS,
            };
            let built = signer.sign(endpoint, &params, v["clock_ms"].as_i64().unwrap());
            let differences =
                built.differences_from_captured("https://api.mexc.com", &v["request"]);
            assert!(differences.is_empty(), "{what}: {differences:?}");
            checked += 1;
        }
        assert_eq!(checked, 2, "every vector was checked");
    }

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
