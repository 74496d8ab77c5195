//! Gate's API v4 request signing (gateio/gateapi-python
//! `gate_api/api_client.py`, `gen_sign`; the project's notes
//! `exchanges/gate.md`):
//! - prehash = `METHOD\n/api/v4/path\nrawQuery\nhex(SHA512(body))\nTimestamp`,
//!   the body hashed as sent ("" when there is none), the path with its
//!   `/api/v4` prefix;
//! - `SIGN` = lowercase hex HMAC-SHA512 of the prehash, keyed by the secret;
//!   headers `KEY`, `Timestamp` (Unix seconds), `SIGN`. The server allows a
//!   60 s gap between its clock and `Timestamp`.
//!
//! keyrevoke sends `Content-Type: application/json` on every call, as ccxt
//! does (test_data/ccxt_vectors.json). The documented examples and ccxt's
//! requests are checked by the connector kit's signing case
//! (`tests/dialect.rs`, `Gate::signing`).

use keyrevoke_core::Secret;
use keyrevoke_core::endpoint::Method;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{hmac_sha512_hex, sha512_hex};

pub const HEADER_KEY: &str = "KEY";
pub const HEADER_TIMESTAMP: &str = "Timestamp";
pub const HEADER_SIGN: &str = "SIGN";

/// The text Gate signs.
pub fn prehash(method: &Method, path: &str, query: &str, body: &str, timestamp_s: i64) -> String {
    format!(
        "{}\n{path}\n{query}\n{}\n{timestamp_s}",
        method.as_str(),
        sha512_hex(body)
    )
}

/// The key that signs a request.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
}

impl Signer<'_> {
    /// A signed call: `path` filled in (`endpoints::path`), `query` encoded
    /// ("" for none), `body` as it will be sent, at `timestamp_ms` by the
    /// exchange's clock (Gate reads whole seconds).
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&str>,
        timestamp_ms: i64,
    ) -> PreparedRequest {
        let timestamp_s = timestamp_ms.div_euclid(1000);
        let signature = hmac_sha512_hex(
            self.secret.expose(),
            &prehash(&method, path, query, body.unwrap_or(""), timestamp_s),
        );
        let path_and_query = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        PreparedRequest {
            mutating: method != Method::GET,
            method,
            path_and_query,
            headers: vec![
                (HEADER_KEY, self.api_key.to_string()),
                (HEADER_TIMESTAMP, timestamp_s.to_string()),
                (HEADER_SIGN, signature),
                ("Content-Type", "application/json".to_string()),
            ],
            body: body.map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_not_mutating_and_the_secret_is_never_in_the_request() {
        let secret = Secret::from("gate-secret-never-shown");
        let signer = Signer {
            api_key: "key",
            secret: &secret,
        };
        let built = signer.sign(Method::GET, "/api/v4/account/detail", "", None, 1);
        assert!(!built.mutating);
        let shown = format!("{built:?} {}", built.path_and_query);
        assert!(!shown.contains("gate-secret-never-shown"), "{shown}");
    }
}
