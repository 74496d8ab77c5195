//! HTX's request signing, signature version 2 (HTX API docs,
//! "Authentication", "Signature Method"; HuobiRDCenter/huobi_Python
//! `huobi/utils/api_signature.py`):
//! - the query string carries `AccessKeyId`, `SignatureMethod=HmacSHA256`,
//!   `SignatureVersion=2` and `Timestamp` (UTC, `YYYY-MM-DDThh:mm:ss`),
//!   with a GET's own parameters; each value URL-encoded (upper-case hex),
//!   the pairs sorted by name in ASCII order and joined by `&`;
//! - prehash = `METHOD\nlower-case host\npath\nthat query`; the "host"
//!   is the one the request is sent to ("the Host in the signature must be
//!   the Host of the request", with its port when the URL names one);
//! - `Signature` = Base64 HMAC-SHA256 of the prehash, URL-encoded and
//!   appended as the last parameter. A POST's JSON body is not signed
//!   ("For POST request, the parameters needn't be signed").
//!
//! Headers: `Content-Type: application/json` on a POST (the docs require
//! it), `application/x-www-form-urlencoded` on a GET, as ccxt sends them
//! (test_data/ccxt_vectors.json). HTX publishes no example with its
//! secret, so ccxt's requests are what the signer is pinned to (the
//! connector kit's signing case, `tests/dialect.rs`).

use keyrevoke_core::Secret;
use keyrevoke_core::endpoint::Method;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{hmac_sha256_base64, percent_encode};
use url::Url;

pub const SIGNATURE_METHOD: &str = "HmacSHA256";
pub const SIGNATURE_VERSION: &str = "2";

/// `YYYY-MM-DDThh:mm:ss`, UTC, whole seconds.
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The host a base URL sends to, as signed: lower case, with the port
/// when the URL names one that is not its scheme's default.
pub fn host_of(base: &Url) -> String {
    let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
    match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Pairs sorted by name (ASCII), values URL-encoded, joined by `&`.
pub fn canonical_query(pairs: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The text HTX signs.
pub fn prehash(method: &Method, host: &str, path: &str, query: &str) -> String {
    format!("{}\n{host}\n{path}\n{query}", method.as_str())
}

/// The key that signs a request, and the host it goes to.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub host: &'a str,
}

impl Signer<'_> {
    /// A signed call of `path` with a GET's `params` (a POST's go in
    /// `body`, unsigned), at `timestamp_ms` by the exchange's clock.
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        body: Option<&str>,
        timestamp_ms: i64,
    ) -> PreparedRequest {
        let mut pairs: Vec<(&str, String)> = vec![
            ("AccessKeyId", self.api_key.to_string()),
            ("SignatureMethod", SIGNATURE_METHOD.to_string()),
            ("SignatureVersion", SIGNATURE_VERSION.to_string()),
            ("Timestamp", timestamp(timestamp_ms)),
        ];
        pairs.extend(params.iter().cloned());
        let query = canonical_query(&pairs);
        let signature = hmac_sha256_base64(
            self.secret.expose(),
            &prehash(&method, self.host, path, &query),
        );
        let content_type = if method == Method::GET {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        PreparedRequest {
            mutating: method != Method::GET,
            method,
            path_and_query: format!("{path}?{query}&Signature={}", percent_encode(&signature)),
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_seconds_and_the_docs_example_query_is_ordered() {
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20");
        // "Signature Method", step 4: the docs' own order and encoding.
        let query = canonical_query(&[
            ("order-id", "1234567890".into()),
            ("AccessKeyId", "e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx".into()),
            ("SignatureMethod", "HmacSHA256".into()),
            ("SignatureVersion", "2".into()),
            ("Timestamp", "2017-05-11T15:19:30".into()),
        ]);
        assert_eq!(
            query,
            "AccessKeyId=e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2017-05-11T15%3A19%3A30&order-id=1234567890"
        );
    }

    #[test]
    fn the_signed_host_carries_an_explicit_port_only() {
        assert_eq!(
            host_of(&Url::parse("https://API.huobi.pro").unwrap()),
            "api.huobi.pro"
        );
        assert_eq!(
            host_of(&Url::parse("http://127.0.0.1:8080").unwrap()),
            "127.0.0.1:8080"
        );
    }

    #[test]
    fn a_read_is_not_mutating_and_the_secret_is_never_in_the_request() {
        let secret = Secret::from("htx-secret-never-shown");
        let signer = Signer {
            api_key: "key",
            secret: &secret,
            host: "api.huobi.pro",
        };
        let built = signer.sign(Method::GET, "/v2/user/uid", &[], None, 1);
        assert!(!built.mutating);
        let shown = format!("{built:?} {}", built.path_and_query);
        assert!(!shown.contains("htx-secret-never-shown"), "{shown}");
    }
}
