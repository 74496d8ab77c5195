//! The HMAC primitives exchanges sign requests with, and the query-string
//! parameters of the schemes that sign one.
//!
//! Only the primitive lives here. What each exchange signs (its prehash),
//! and how the signature travels, stays in that exchange's connector
//! (`connectors/<exchange>/src/sign.rs`), tested there against the
//! exchange's published vectors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// HMAC-SHA256 of `message` keyed by `secret`.
pub fn hmac_sha256(secret: &str, message: &str) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Lowercase hex HMAC-SHA256 (Bybit, Binance).
pub fn hmac_sha256_hex(secret: &str, message: &str) -> String {
    hex::encode(hmac_sha256(secret, message))
}

/// Lowercase hex HMAC-SHA512 (Gate APIv4).
pub fn hmac_sha512_hex(secret: &str, message: &str) -> String {
    let mut mac =
        Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// HMAC-SHA512 keyed by raw bytes (Kraken keys it with its base64-decoded
/// secret and signs bytes that are not text).
pub fn hmac_sha512(key: &[u8], message: &[u8]) -> [u8; 64] {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// SHA-256 of bytes (Kraken hashes the nonce and the body into its message).
pub fn sha256(message: &[u8]) -> [u8; 32] {
    Sha256::digest(message).into()
}

/// Lowercase hex SHA-512 (Gate APIv4 hashes the body into its prehash).
pub fn sha512_hex(message: &str) -> String {
    hex::encode(Sha512::digest(message.as_bytes()))
}

/// Standard (padded) Base64 HMAC-SHA256 (OKX, KuCoin).
pub fn hmac_sha256_base64(secret: &str, message: &str) -> String {
    STANDARD.encode(hmac_sha256(secret, message))
}

/// Percent-encode a parameter (UTF-8, RFC 3986): everything but the
/// unreserved `A-Z a-z 0-9 - _ . ~` becomes `%XX`. Binance's docs require
/// non-ASCII to be encoded; encoding the reserved characters too (`@` in an
/// email, `,` between IPs) keeps them from being read as query syntax, as
/// Binance's SDK does. Shared by the schemes that sign a query string
/// (Binance, MEXC).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An endpoint's own parameters, in the order they are sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn new() -> Self {
        Params(Vec::new())
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.push((name, value.into()));
        self
    }

    /// The parameters' names, in the order they are sent.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    /// `name=value&…`, each value percent-encoded.
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2: key "Jefe".
    #[test]
    fn rfc_4231_test_case_2() {
        assert_eq!(
            hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_sha256_base64("Jefe", "what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
    }
}
