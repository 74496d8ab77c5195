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

    /// The published example and ccxt's requests are checked by the
    /// connector kit's signing case (`tests/dialect.rs`, `Bybit::signing`).
    /// Here: a GET signs its query, a POST its body, and the secret is in
    /// neither.
    #[test]
    fn a_get_signs_its_query_a_post_its_body_and_neither_shows_the_secret() {
        let secret = Secret::from("bybit-secret-never-shown");
        let signer = Signer {
            api_key: "k",
            secret: &secret,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        };
        let get = signer.sign(Method::GET, "/v5/user/query-api", "a=1", Some("ignored"), 7);
        let post = signer.sign(Method::POST, "/v5/user/delete-api", "", Some("{}"), 7);
        assert_eq!(
            get.header(HEADER_SIGN),
            Some(hmac_sha256_hex("bybit-secret-never-shown", "7k5000a=1").as_str())
        );
        assert_eq!(
            post.header(HEADER_SIGN),
            Some(hmac_sha256_hex("bybit-secret-never-shown", "7k5000{}").as_str())
        );
        assert!(!get.mutating && post.mutating);
        let shown = format!("{get:?} {post:?}");
        assert!(!shown.contains("bybit-secret-never-shown"), "{shown}");
    }
}
