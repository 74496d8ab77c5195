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
//! does (test_data/ccxt_vectors.json).

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
    use crate::endpoints;

    /// The two examples of `exchanges/gate.md` (key `key`, secret `secret`,
    /// from gate's API v4 docs, "Authentication"): a GET with a query and a
    /// POST with a body.
    #[test]
    fn the_documented_examples_are_reproduced() {
        let get = prehash(
            &Method::GET,
            "/api/v4/futures/orders",
            "contract=BTC_USD&status=finished&limit=50",
            "",
            1_541_993_715,
        );
        assert_eq!(
            hmac_sha512_hex("secret", &get),
            "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a"
        );
        let body = r#"{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}"#;
        assert_eq!(
            sha512_hex(body),
            "ad3c169203dc3026558f01b4df307641fa1fa361f086b2306658886d5708767b1854797c68d9e62fef2f991645aa82673622ebf417e091d0bd22bafe5d956cca"
        );
        let secret = Secret::from("secret");
        let signer = Signer {
            api_key: "key",
            secret: &secret,
        };
        let post = signer.sign(
            Method::POST,
            "/api/v4/futures/orders",
            "",
            Some(body),
            1_541_993_715_000,
        );
        assert_eq!(
            post.header(HEADER_SIGN),
            Some(
                "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541fc4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0"
            )
        );
        assert_eq!(post.header(HEADER_TIMESTAMP), Some("1541993715"));
    }

    /// ccxt 4.5.90's requests for the calls keyrevoke makes
    /// (test_data/ccxt_vectors.json, from ../shared/vectors/gate.json),
    /// built here by the connector's own builders: byte for byte.
    #[test]
    fn matches_requests_built_by_ccxt() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../test_data/ccxt_vectors.json")).unwrap();
        let mut checked = 0;
        for v in vectors["vectors"].as_array().unwrap() {
            let what = v["what"].as_str().unwrap();
            let (endpoint, path) = match what {
                "main account deletes a sub-account key" => (
                    &endpoints::DELETE_SUB_KEY,
                    endpoints::path(
                        &endpoints::DELETE_SUB_KEY,
                        "510001",
                        "0123456789abcdef0123456789abcdef",
                    ),
                ),
                "liveness probe (GET /api/v4/account/detail)" => (
                    &endpoints::ACCOUNT_DETAIL,
                    endpoints::ACCOUNT_DETAIL.path.to_string(),
                ),
                other => panic!("no builder for the vector `{other}`"),
            };
            let creds = &v["credentials"];
            let secret = Secret::from(creds["api_secret"].as_str().unwrap());
            let signer = Signer {
                api_key: creds["api_key"].as_str().unwrap(),
                secret: &secret,
            };
            let built = signer.sign(
                endpoint.method.clone(),
                &path,
                "",
                None,
                v["clock_ms"].as_i64().unwrap(),
            );
            let differences =
                built.differences_from_captured("https://api.gateio.ws", &v["request"]);
            assert!(differences.is_empty(), "{what}: {differences:?}");
            checked += 1;
        }
        assert_eq!(checked, 2, "every vector was checked");
    }

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
