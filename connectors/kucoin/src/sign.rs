//! KuCoin request signing.
//!
//! Source: https://www.kucoin.com/docs-new/authentication ("Creating a
//! Request", "Signing a Message"), and the official SDK's signer
//! (github.com/Kucoin/kucoin-universal-sdk,
//! `sdk/python/kucoin_universal_sdk/internal/infra/default_signer.py`):
//! - `KC-API-SIGN` = base64(HMAC-SHA256(secret, timestamp + METHOD +
//!   endpoint + body)), where for GET and DELETE the endpoint carries the
//!   query string, and "the URL must use the content that has not been
//!   URL-encoded" (the docs' example: sent `passphrase=abc%21%40%2311`,
//!   signed `passphrase=abc!@#11`); the body is "" when there is none;
//! - `KC-API-PASSPHRASE` = base64(HMAC-SHA256(secret, passphrase)) for key
//!   versions 2 and 3 (https://www.kucoin.com/docs/basic-info/connection-method/authentication/signing-a-message);
//! - `KC-API-TIMESTAMP` in milliseconds; `KC-API-KEY-VERSION`; all requests
//!   are `Content-Type: application/json`.

use keyrevoke_core::Secret;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_base64;
use reqwest::Method;

pub const HEADER_API_KEY: &str = "KC-API-KEY";
pub const HEADER_SIGN: &str = "KC-API-SIGN";
pub const HEADER_TIMESTAMP: &str = "KC-API-TIMESTAMP";
pub const HEADER_PASSPHRASE: &str = "KC-API-PASSPHRASE";
pub const HEADER_KEY_VERSION: &str = "KC-API-KEY-VERSION";

/// The key version we announce. The docs' own examples (docs-new
/// "Authentication", Python and Go) send "2"; versions 2 and 3 sign alike,
/// and the official SDK (1.3.x) sends "3".
pub const DEFAULT_KEY_VERSION: &str = "2";

/// `timestamp + METHOD + path(+ "?" + unencoded query) + body`.
pub fn prehash(
    timestamp_ms: i64,
    method: &Method,
    path: &str,
    raw_query: &str,
    body: &str,
) -> String {
    let q = if raw_query.is_empty() {
        String::new()
    } else {
        format!("?{raw_query}")
    };
    format!("{timestamp_ms}{}{path}{q}{body}", method.as_str())
}

/// `k=v&k=v` in the given order, values as they are (what is signed).
pub fn raw_query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `k=v&k=v` with keys and values form-urlencoded (what is sent).
pub fn encoded_query(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The key that signs a request: its id, secret and passphrase.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub passphrase: &'a Secret,
    pub key_version: &'static str,
}

impl Signer<'_> {
    /// Build a signed request. `params` go into the query string (GET,
    /// DELETE); `body` is the exact JSON of a POST.
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        body: Option<&str>,
        timestamp_ms: i64,
    ) -> PreparedRequest {
        let secret = self.secret.expose();
        let payload = prehash(
            timestamp_ms,
            &method,
            path,
            &raw_query(params),
            body.unwrap_or(""),
        );
        let sign = hmac_sha256_base64(secret, &payload);
        let passphrase = hmac_sha256_base64(secret, self.passphrase.expose());
        let path_and_query = if params.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", encoded_query(params))
        };
        let mutating = method != Method::GET;
        PreparedRequest {
            method,
            path_and_query,
            headers: vec![
                ("Content-Type", "application/json".to_string()),
                (HEADER_API_KEY, self.api_key.to_string()),
                (HEADER_SIGN, sign),
                (HEADER_TIMESTAMP, timestamp_ms.to_string()),
                (HEADER_PASSPHRASE, passphrase),
                (HEADER_KEY_VERSION, self.key_version.to_string()),
            ],
            body: body.map(str::to_string),
            mutating,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_signed_unencoded_and_sent_encoded() {
        // The docs' own example (docs-new "Authentication").
        let params = [
            ("apiKey", "67*b3"),
            ("subName", "test"),
            ("passphrase", "abc!@#11"),
        ];
        assert_eq!(
            raw_query(&params),
            "apiKey=67*b3&subName=test&passphrase=abc!@#11"
        );
        assert_eq!(
            encoded_query(&params),
            "apiKey=67*b3&subName=test&passphrase=abc%21%40%2311"
        );
    }

    /// The headers carry only HMACs. (A DELETE's query does carry the sub
    /// key's passphrase, as KuCoin requires; nothing formats the request.)
    #[test]
    fn debug_of_a_signed_request_holds_no_secret() {
        let secret = Secret::from("the-secret-value");
        let passphrase = Secret::from("the-passphrase");
        let signer = Signer {
            api_key: "KEY",
            secret: &secret,
            passphrase: &passphrase,
            key_version: DEFAULT_KEY_VERSION,
        };
        let req = signer.sign(Method::GET, "/api/v1/user/api-key", &[], None, 1);
        let text = format!("{req:?}");
        assert!(
            !text.contains("the-secret-value") && !text.contains("the-passphrase"),
            "{text}"
        );
    }
}
