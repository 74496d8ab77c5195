//! Binance request signing (HMAC-SHA256 keys).
//!
//! Source: binance/binance-spot-api-docs `rest-api.md` ("SIGNED (TRADE and
//! USER_DATA) Endpoint security", "Timing security") and
//! https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security:
//! - the API key travels in the `X-MBX-APIKEY` header;
//! - `totalParams` = the query string concatenated with the form body (no
//!   separator between them); non-ASCII values are percent-encoded (UTF-8)
//!   before signing, and the exact encoded bytes are both signed and sent;
//! - signature = hex HMAC-SHA256 of `totalParams` keyed by the secret, sent as
//!   the `signature` parameter, last; HMAC signatures are not case-sensitive;
//! - `timestamp` (ms) is mandatory; `recvWindow` defaults to 5000 and may not
//!   exceed 60000; the server accepts when
//!   `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow`.
//!
//! keyrevoke sends every parameter in the query string, for every method, as
//! Binance's own SDK does (binance/binance-connector-python
//! `common/src/binance_common/utils.py`, `send_request`): endpoint parameters
//! in order, then `recvWindow`, then `timestamp`, then `signature`.

use keyrevoke_core::Secret;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_hex;
pub use keyrevoke_core::sign::{Params, percent_encode};
use reqwest::Method;

pub const HEADER_API_KEY: &str = "X-MBX-APIKEY";

/// The docs' default receive window (rest-api.md, "Timing security").
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5000;
/// "The max cannot go beyond 60,000!" (rest-api.md).
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;

/// The key that signs a request.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub recv_window_ms: u64,
}

impl Signer<'_> {
    /// A signed request: the endpoint's parameters, then `recvWindow` and
    /// `timestamp`, then the signature over all of them.
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        params: &Params,
        timestamp_ms: i64,
    ) -> PreparedRequest {
        let mut query = params.encode();
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!(
            "recvWindow={}&timestamp={timestamp_ms}",
            self.recv_window_ms
        ));
        self.sign_query(method, path, &query)
    }

    /// Sign an already encoded query string (`totalParams`, no body) and
    /// append `signature` as its last parameter.
    pub fn sign_query(&self, method: Method, path: &str, unsigned_query: &str) -> PreparedRequest {
        let signature = hmac_sha256_hex(self.secret.expose(), unsigned_query);
        let mutating = method != Method::GET;
        PreparedRequest {
            method,
            path_and_query: format!("{path}?{unsigned_query}&signature={signature}"),
            headers: vec![(HEADER_API_KEY, self.api_key.to_string())],
            body: None,
            mutating,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const DOC_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
    const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const DOC_TIMESTAMP: i64 = 1_499_827_319_559;

    fn doc_signer(secret: &Secret) -> Signer<'_> {
        Signer {
            api_key: DOC_KEY,
            secret,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        }
    }

    fn split_url(url: &str) -> (&str, &str) {
        let path_q = url.trim_start_matches("https://api.binance.com");
        path_q.split_once('?').expect("a signed URL has a query")
    }

    /// ccxt 4.5.90 (test_data/ccxt_vectors.json) puts `timestamp` first,
    /// uses `recvWindow=10000` and leaves `@` unencoded; the docs allow any
    /// parameter order ("Parameters may be sent in any order",
    /// rest-api.md), and the kit's signing case checks that our signer,
    /// fed ccxt's query, signs it as ccxt did. Here: our own builder, given
    /// the vector's clock and window, sends the same parameters with the
    /// same values.
    #[test]
    fn our_requests_carry_ccxt_s_parameters_and_values() {
        use crate::endpoints;
        let vectors: Value = serde_json::from_str(include_str!("../test_data/ccxt_vectors.json"))
            .expect("vector file parses");
        for v in vectors["vectors"].as_array().unwrap() {
            let what = v["what"].as_str().unwrap();
            let req = &v["request"];
            let url = req["url"].as_str().unwrap();
            let (path, query) = split_url(url);
            let (unsigned, _) = query.rsplit_once("&signature=").expect("signature is last");
            let secret = Secret::from(v["credentials"]["api_secret"].as_str().unwrap());
            let signer = Signer {
                api_key: "k",
                secret: &secret,
                recv_window_ms: 10_000,
            };
            let method: Method = req["method"].as_str().unwrap().parse().unwrap();
            // Our own request for the same call: same parameters and values.
            let params = match path {
                endpoints::SUB_KEYS_PATH => {
                    endpoints::sub_key_params("bot001@virtual.example", "SUBKEYabc123")
                }
                endpoints::API_RESTRICTIONS_PATH => Params::new(),
                other => panic!("{what}: unexpected path {other}"),
            };
            let ours = signer.sign(method, path, &params, v["clock_ms"].as_i64().unwrap());
            let decoded = |q: &str| {
                let mut pairs: Vec<(String, String)> = q
                    .split('&')
                    .filter(|kv| !kv.starts_with("signature="))
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap();
                        (k.to_string(), v.replace("%40", "@"))
                    })
                    .collect();
                pairs.sort();
                pairs
            };
            let (_, our_query) = ours.path_and_query.split_once('?').unwrap();
            assert_eq!(
                decoded(our_query),
                decoded(unsigned),
                "{what}: the same parameters and values"
            );
        }
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            percent_encode("bot001@virtual.example"),
            "bot001%40virtual.example"
        );
        assert_eq!(
            percent_encode("192.0.2.1,192.0.2.2"),
            "192.0.2.1%2C192.0.2.2"
        );
        assert_eq!(percent_encode("a b+c~d_e-f"), "a%20b%2Bc~d_e-f");
    }

    #[test]
    fn a_read_is_not_mutating_and_the_secret_is_never_in_the_request() {
        let secret = Secret::from(DOC_SECRET);
        let built = doc_signer(&secret).sign(
            Method::GET,
            "/sapi/v1/account/apiRestrictions",
            &Params::new(),
            DOC_TIMESTAMP,
        );
        assert!(!built.mutating);
        assert!(built.path_and_query.starts_with(
            "/sapi/v1/account/apiRestrictions?recvWindow=5000&timestamp=1499827319559&signature="
        ));
        let text = format!("{built:?}");
        assert!(
            !text.contains(DOC_SECRET),
            "the secret leaked into the request: {text}"
        );
    }
}
