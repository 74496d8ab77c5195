//! Bitget's request signing (bitget.com/api-doc/common/signature; the
//! official SDK BitgetLimited/v3-bitget-api-sdk,
//! `bitget-python-sdk-api/bitget/utils.py`, `sign` and `pre_hash`; the
//! project's notes `exchanges/bitget.md`):
//! - prehash = `timestamp + METHOD + requestPath + ("?" + queryString) + body`,
//!   the query string and the body exactly as sent, `?` only when there is
//!   a query, the body "" when there is none;
//! - `ACCESS-SIGN` = Base64 HMAC-SHA256 of the prehash, keyed by the secret;
//!   headers `ACCESS-KEY`, `ACCESS-SIGN`, `ACCESS-TIMESTAMP` (Unix ms),
//!   `ACCESS-PASSPHRASE` (the key's passphrase, as set at its creation).
//!
//! keyrevoke sends `Content-Type: application/json` with a body only, as
//! ccxt does (test_data/ccxt_vectors.json: the delete carries it, the
//! probe does not). The documented prehash example and ccxt's requests are
//! checked by the connector kit's signing case (`tests/dialect.rs`,
//! `Bitget::signing`).

use keyrevoke_core::Secret;
use keyrevoke_core::endpoint::Method;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_base64;

pub const HEADER_KEY: &str = "ACCESS-KEY";
pub const HEADER_SIGN: &str = "ACCESS-SIGN";
pub const HEADER_TIMESTAMP: &str = "ACCESS-TIMESTAMP";
pub const HEADER_PASSPHRASE: &str = "ACCESS-PASSPHRASE";

/// The text Bitget signs.
pub fn prehash(method: &Method, path: &str, query: &str, body: &str, timestamp_ms: i64) -> String {
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{timestamp_ms}{}{path}{query}{body}", method.as_str())
}

/// The key that signs a request, with its passphrase.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub passphrase: &'a Secret,
}

impl Signer<'_> {
    /// A signed call: `query` encoded ("" for none), `body` as it will be
    /// sent, at `timestamp_ms` by the exchange's clock.
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&str>,
        timestamp_ms: i64,
    ) -> PreparedRequest {
        let signature = hmac_sha256_base64(
            self.secret.expose(),
            &prehash(&method, path, query, body.unwrap_or(""), timestamp_ms),
        );
        let path_and_query = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let mut headers = vec![
            (HEADER_KEY, self.api_key.to_string()),
            (HEADER_SIGN, signature),
            (HEADER_TIMESTAMP, timestamp_ms.to_string()),
            (HEADER_PASSPHRASE, self.passphrase.expose().to_string()),
        ];
        if body.is_some() {
            headers.push(("Content-Type", "application/json".to_string()));
        }
        PreparedRequest {
            mutating: method != Method::GET,
            method,
            path_and_query,
            headers,
            body: body.map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_joins_the_prehash_with_a_question_mark_only_when_there_is_one() {
        assert_eq!(
            prehash(&Method::GET, "/api/v2/spot/account/info", "", "", 5),
            "5GET/api/v2/spot/account/info"
        );
        assert_eq!(
            prehash(&Method::POST, "/p", "a=1", "{}", 5),
            "5POST/p?a=1{}"
        );
    }

    #[test]
    fn a_read_is_not_mutating_and_the_secret_is_never_in_the_request() {
        let secret = Secret::from("bitget-secret-never-shown");
        let passphrase = Secret::from("pass-never-shown");
        let signer = Signer {
            api_key: "key",
            secret: &secret,
            passphrase: &passphrase,
        };
        let built = signer.sign(Method::GET, "/api/v2/spot/account/info", "", None, 1);
        assert!(!built.mutating);
        assert_eq!(built.header("Content-Type"), None, "no body, no type");
        let shown = format!("{built:?} {}", built.path_and_query);
        assert!(!shown.contains("bitget-secret-never-shown"), "{shown}");
        assert!(!shown.contains("pass-never-shown"), "{shown}");
    }
}
