//! The HMAC-SHA256 primitives exchanges sign requests with.
//!
//! Only the primitive lives here. What each exchange signs (its prehash),
//! and how the signature travels, stays in that exchange's connector
//! (`connectors/<exchange>/src/sign.rs`), tested there against the
//! exchange's published vectors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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

/// Standard (padded) Base64 HMAC-SHA256 (OKX, KuCoin).
pub fn hmac_sha256_base64(secret: &str, message: &str) -> String {
    STANDARD.encode(hmac_sha256(secret, message))
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
