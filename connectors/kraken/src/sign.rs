//! Kraken's request signing (spot REST), as "Spot REST Authentication"
//! (docs.kraken.com/api/docs/guides/spot-rest-auth) documents it:
//! - `API-Key`: the public key; `API-Sign`: base64 of HMAC-SHA512 of
//!   (URI path + SHA256(nonce + POST data)), keyed by the base64-decoded
//!   secret, where the path is "the part starting with /0/private";
//! - `nonce`: a payload parameter, "always increasing, unsigned 64-bit
//!   integer"; `otp` only when the key has its own 2FA.
//!
//! keyrevoke sends the form-encoded body ccxt sends (`nonce` first, then
//! the endpoint's own parameters; test_data/ccxt_vectors.json), with the
//! nonce in milliseconds, as the docs' example and ccxt do.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyrevoke_core::Secret;
use keyrevoke_core::endpoint::Endpoint;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{Params, hmac_sha512, sha256};

pub const HEADER_API_KEY: &str = "API-Key";
pub const HEADER_API_SIGN: &str = "API-Sign";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A secret that is not the base64 Kraken issues: nothing can be signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretNotBase64;

impl std::fmt::Display for SecretNotBase64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Kraken API secret is base64 (the private key shown once at creation)")
    }
}

/// The secret's bytes, as the signature is keyed.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SecretNotBase64> {
    STANDARD
        .decode(secret.trim())
        .ok()
        .filter(|b| !b.is_empty())
        .ok_or(SecretNotBase64)
}

/// `API-Sign` for `post_data` sent to `path` with `nonce`.
pub fn api_sign(
    secret: &str,
    path: &str,
    nonce: u64,
    post_data: &str,
) -> Result<String, SecretNotBase64> {
    let key = decode_secret(secret)?;
    let digest = sha256(format!("{nonce}{post_data}").as_bytes());
    let message = [path.as_bytes(), digest.as_slice()].concat();
    Ok(STANDARD.encode(hmac_sha512(&key, &message)))
}

/// The key that signs a request.
pub struct Signer<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
}

impl Signer<'_> {
    /// A signed call of `endpoint` with its `params` and `nonce`. Every
    /// private call is a POST; none that keyrevoke makes changes anything.
    pub fn sign(
        &self,
        endpoint: &Endpoint,
        params: &Params,
        nonce: u64,
    ) -> Result<PreparedRequest, SecretNotBase64> {
        let mut body = format!("nonce={nonce}");
        let rest = params.encode();
        if !rest.is_empty() {
            body.push('&');
            body.push_str(&rest);
        }
        let signature = api_sign(self.secret.expose(), endpoint.path, nonce, &body)?;
        Ok(PreparedRequest {
            method: endpoint.method.clone(),
            path_and_query: endpoint.path.to_string(),
            headers: vec![
                (HEADER_API_KEY, self.api_key.to_string()),
                (HEADER_API_SIGN, signature),
                ("Content-Type", FORM_CONTENT_TYPE.to_string()),
            ],
            body: Some(body),
            mutating: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints;

    #[test]
    fn a_secret_that_is_not_base64_signs_nothing_and_is_never_shown() {
        let secret = Secret::from("not base64 at all!");
        let signed = Signer {
            api_key: "k",
            secret: &secret,
        }
        .sign(&endpoints::GET_API_KEY_INFO, &Params::new(), 1);
        assert_eq!(signed, Err(SecretNotBase64));
        assert!(!SecretNotBase64.to_string().contains("not base64 at all"));
        assert_eq!(decode_secret(""), Err(SecretNotBase64));
    }

    #[test]
    fn the_probe_is_a_read_whose_body_starts_with_the_nonce() {
        let secret = Secret::from("a2V5");
        let r = Signer {
            api_key: "k",
            secret: &secret,
        }
        .sign(&endpoints::GET_API_KEY_INFO, &Params::new(), 42)
        .unwrap();
        assert!(!r.mutating, "GetApiKeyInfo changes nothing");
        assert_eq!(r.body.as_deref(), Some("nonce=42"));
        let shown = format!("{r:?}");
        assert!(!shown.contains("a2V5"), "{shown}");
    }
}
