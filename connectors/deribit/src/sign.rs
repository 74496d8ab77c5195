//! Deribit's request signing (docs.deribit.com, articles/authentication;
//! the project's notes `exchanges/deribit.md`):
//! - a REST call signs itself with the header `Authorization:
//!   deri-hmac-sha256 id=ClientId,ts=Timestamp,sig=Signature,nonce=Nonce`,
//!   `Signature` = lowercase hex HMAC-SHA256 of
//!   `Timestamp\nNonce\nMETHOD\nURI\nBody\n` keyed by the client secret,
//!   `URI` the path with its query (`?…`) as sent, `Timestamp` in Unix ms,
//!   accepted within 60 s of the server's clock;
//! - `public/auth` with grant `client_signature` signs
//!   `Timestamp\nNonce\nData` the same way and returns tokens;
//! - a token is sent as `Authorization: Bearer <token>`.
//!
//! ccxt sends the timestamp as the nonce (test_data/ccxt_vectors.json);
//! keyrevoke does the same. The published example and ccxt's requests are
//! checked by the connector kit's signing case (`tests/dialect.rs`).

use keyrevoke_core::Secret;
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{Params, hmac_sha256_hex};

use crate::endpoints;

pub const HEADER_AUTHORIZATION: &str = "Authorization";
pub const SCHEME: &str = "deri-hmac-sha256";

/// `Timestamp\nNonce\nMETHOD\nURI\nBody\n`: what the header signs.
pub fn string_to_sign(
    timestamp_ms: i64,
    nonce: &str,
    method: &str,
    uri: &str,
    body: &str,
) -> String {
    format!("{timestamp_ms}\n{nonce}\n{method}\n{uri}\n{body}\n")
}

/// `client_signature`: hex HMAC-SHA256 of `Timestamp\nNonce\nData`.
pub fn client_signature(secret: &str, timestamp_ms: i64, nonce: &str, data: &str) -> String {
    hmac_sha256_hex(secret, &format!("{timestamp_ms}\n{nonce}\n{data}"))
}

/// The path with its query, as sent and signed.
fn uri(endpoint: &Endpoint, params: &Params) -> String {
    let query = params.encode();
    if query.is_empty() {
        endpoint.path.to_string()
    } else {
        format!("{}?{query}", endpoint.path)
    }
}

fn request(endpoint: &Endpoint, params: &Params, authorization: Option<String>) -> PreparedRequest {
    PreparedRequest {
        method: endpoint.method.clone(),
        path_and_query: uri(endpoint, params),
        headers: authorization
            .map(|a| vec![(HEADER_AUTHORIZATION, a)])
            .unwrap_or_default(),
        body: None,
        mutating: endpoints::changes_state(endpoint),
    }
}

/// The key that signs a request.
pub struct Signer<'a> {
    pub client_id: &'a str,
    pub secret: &'a Secret,
}

impl Signer<'_> {
    /// A call signed by the header, at `timestamp_ms` by the exchange's
    /// clock, its parameters in the query string.
    pub fn sign(&self, endpoint: &Endpoint, params: &Params, timestamp_ms: i64) -> PreparedRequest {
        let nonce = timestamp_ms.to_string();
        let signature = hmac_sha256_hex(
            self.secret.expose(),
            &string_to_sign(
                timestamp_ms,
                &nonce,
                endpoint.method.as_str(),
                &uri(endpoint, params),
                "",
            ),
        );
        let header = format!(
            "{SCHEME} id={},ts={timestamp_ms},sig={signature},nonce={nonce}",
            self.client_id
        );
        request(endpoint, params, Some(header))
    }

    /// `public/auth` with grant `client_signature` (empty `data`).
    pub fn auth(&self, timestamp_ms: i64) -> PreparedRequest {
        let nonce = timestamp_ms.to_string();
        let params = Params::new()
            .with("grant_type", "client_signature")
            .with("client_id", self.client_id)
            .with("timestamp", timestamp_ms.to_string())
            .with(
                "signature",
                client_signature(self.secret.expose(), timestamp_ms, &nonce, ""),
            )
            .with("nonce", nonce)
            .with("data", "");
        request(&endpoints::AUTH, &params, None)
    }
}

/// A call carrying a token (`Authorization: Bearer …`).
pub fn bearer(endpoint: &Endpoint, params: &Params, token: &Secret) -> PreparedRequest {
    request(endpoint, params, Some(format!("Bearer {}", token.expose())))
}

/// A public call, unsigned.
pub fn public(endpoint: &Endpoint, params: &Params) -> PreparedRequest {
    request(endpoint, params, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_sends_the_documented_parameters_and_never_the_secret() {
        let secret = Secret::from("deribit-secret-never-shown");
        let signer = Signer {
            client_id: "AMANDA",
            secret: &secret,
        };
        let built = signer.auth(1_576_074_319_000);
        let query = built.path_and_query.split_once('?').unwrap().1;
        let names: Vec<&str> = query
            .split('&')
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(names, endpoints::AUTH.params);
        assert!(!built.mutating);
        let shown = format!("{built:?} {} {:?}", built.path_and_query, built.headers);
        assert!(!shown.contains("deribit-secret-never-shown"), "{shown}");
    }

    /// Tokens are credentials: a request's `Debug` (what a log or a panic
    /// could show) carries neither the bearer token nor a refresh token
    /// sent in the query.
    #[test]
    fn no_token_shows_in_a_requests_debug() {
        let token = Secret::from("1582628593469.access-token-never-shown");
        let shown = format!(
            "{:?}",
            bearer(&endpoints::LIST_KEYS, &Params::new(), &token)
        );
        assert!(!shown.contains("access-token-never-shown"), "{shown}");
        let exchange = public(
            &endpoints::EXCHANGE_TOKEN,
            &Params::new()
                .with("refresh_token", "1582628593469.refresh-token-never-shown")
                .with("subject_id", "10"),
        );
        let shown = format!("{exchange:?}");
        assert!(!shown.contains("refresh-token-never-shown"), "{shown}");
    }

    #[test]
    fn a_remove_is_a_write_though_sent_as_a_get() {
        let secret = Secret::from("s");
        let signer = Signer {
            client_id: "k",
            secret: &secret,
        };
        let built = signer.sign(&endpoints::REMOVE_KEY, &Params::new().with("id", "12"), 1);
        assert!(built.mutating);
        assert_eq!(built.path_and_query, "/api/v2/private/remove_api_key?id=12");
    }
}
