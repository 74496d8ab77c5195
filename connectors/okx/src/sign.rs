//! OKX v5 request signing.
//!
//! Source: https://www.okx.com/docs-v5/en/#overview-rest-authentication
//! ("Making Requests" and "Signature"):
//! - every private request carries `OK-ACCESS-KEY`, `OK-ACCESS-SIGN`,
//!   `OK-ACCESS-TIMESTAMP` and `OK-ACCESS-PASSPHRASE` (the passphrase chosen
//!   when the key was created, sent as is: plaintext);
//! - the timestamp is ISO 8601 UTC with milliseconds, e.g.
//!   `2020-12-08T09:08:57.715Z`; one more than 30 s away from the server's
//!   clock is refused with 50102;
//! - prehash = `timestamp + METHOD + requestPath + body`, where a GET's query
//!   string is part of `requestPath` and a GET has no body;
//! - signature = Base64(HMAC-SHA256(secret, prehash));
//! - request bodies are JSON with `Content-Type: application/json`.
//!
//! The official SDK does the same: okxapi/python-okx `okx/utils.py`
//! (`pre_hash`, `sign`, `get_header`, `get_timestamp`).

use keyrevoke_core::Secret;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_base64;
use reqwest::Method;

pub const HEADER_API_KEY: &str = "OK-ACCESS-KEY";
pub const HEADER_SIGN: &str = "OK-ACCESS-SIGN";
pub const HEADER_TIMESTAMP: &str = "OK-ACCESS-TIMESTAMP";
pub const HEADER_PASSPHRASE: &str = "OK-ACCESS-PASSPHRASE";

/// How far the server lets a timestamp stray from its clock (50102 beyond).
pub const TIMESTAMP_TOLERANCE_MS: i64 = 30_000;

/// `OK-ACCESS-TIMESTAMP` for a Unix time in ms: `2020-12-08T09:08:57.715Z`.
pub fn iso_timestamp(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The v5 prehash string. `request_path` includes `?query` for a GET.
pub fn prehash(timestamp: &str, method: &Method, request_path: &str, body: &str) -> String {
    format!("{timestamp}{}{request_path}{body}", method.as_str())
}

/// The key that signs a request: its id, secret and passphrase.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub passphrase: &'a Secret,
}

impl Signer<'_> {
    /// Build a signed v5 request. `query` is the exact query string (without
    /// `?`) for a GET; `body` the exact JSON for a POST.
    ///
    /// The returned request carries the passphrase in a header, as OKX
    /// requires: never format it with `{:?}`.
    pub fn sign(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&str>,
        timestamp_ms: i64,
    ) -> PreparedRequest {
        let timestamp = iso_timestamp(timestamp_ms);
        let path_and_query = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let payload = if method == Method::GET {
            ""
        } else {
            body.unwrap_or("")
        };
        let sign = hmac_sha256_base64(
            self.secret.expose(),
            &prehash(&timestamp, &method, &path_and_query, payload),
        );
        let mutating = method != Method::GET;
        PreparedRequest {
            method,
            path_and_query,
            headers: vec![
                ("Content-Type", "application/json".to_string()),
                (HEADER_API_KEY, self.api_key.to_string()),
                (HEADER_SIGN, sign),
                (HEADER_TIMESTAMP, timestamp),
                (HEADER_PASSPHRASE, self.passphrase.expose().to_string()),
            ],
            body: body.map(str::to_string),
            mutating,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The docs' own example inputs (the timestamp and prehash are checked
    /// by the kit's signing case, `tests/dialect.rs`, `Okx::signing`) with
    /// the SecretKey `22582BD0CFF14C41EDBF1AB98506286D`. OKX publishes no
    /// expected signature for them: the value below was computed with
    /// Python's standard `hmac` and `base64` modules, independently of this
    /// code.
    #[test]
    fn the_documented_example_inputs() {
        let pre = prehash(
            "2020-12-08T09:08:57.715Z",
            &Method::GET,
            "/api/v5/account/balance?ccy=BTC",
            "",
        );
        assert_eq!(
            hmac_sha256_base64("22582BD0CFF14C41EDBF1AB98506286D", &pre),
            "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
        );
    }

    #[test]
    fn timestamps_keep_three_fraction_digits_and_utc() {
        assert_eq!(iso_timestamp(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(iso_timestamp(1_700_000_000_007), "2023-11-14T22:13:20.007Z");
    }

    #[test]
    fn a_get_signs_its_query_as_part_of_the_path_and_sends_no_body() {
        let secret = Secret::from("s");
        let passphrase = Secret::from("p");
        let signer = Signer {
            api_key: "k",
            secret: &secret,
            passphrase: &passphrase,
        };
        let req = signer.sign(
            Method::GET,
            "/api/v5/users/subaccount/apikey",
            "subAcct=a&apiKey=b",
            None,
            0,
        );
        assert_eq!(
            req.path_and_query,
            "/api/v5/users/subaccount/apikey?subAcct=a&apiKey=b"
        );
        assert!(req.body.is_none());
        assert!(!req.mutating);
        let expected = hmac_sha256_base64(
            "s",
            "1970-01-01T00:00:00.000ZGET/api/v5/users/subaccount/apikey?subAcct=a&apiKey=b",
        );
        assert!(
            req.headers
                .iter()
                .any(|(n, v)| *n == HEADER_SIGN && *v == expected)
        );
    }
}
